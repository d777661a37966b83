"""Payment lifecycle (never paid twice, R-PAY-3), bank details with four-eyes verification (R-PAY-3)."""

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from dife_contracts.events import PaymentOrdered, PaymentRejected, PaymentSent, PaymentSettled
from payout.domain.batches import ReportedTransfer, StatusReport, TransferStatus, message_id
from payout.domain.payees import BankDetails, BankDetailsStatus, mask_iban
from payout.domain.payments import TRANSITIONS, Payment, PaymentStatus
from servicekit.rules import InvalidTransition, RuleBroken, RulesBroken

NOW = datetime(2027, 1, 15, 10, tzinfo=UTC)
IBAN = "FR7630006000011234567890189"
OTHER_IBAN = "FR1420041010050500013M02606"


def a_payment(amount: int = 56_000) -> Payment:
    return Payment.order(
        dossier_id=uuid4(),
        elu_id=uuid4(),
        siret="12345678900011",
        amount_cents=amount,
        realisation_percent=70,
        validated_on=date(2027, 1, 10),
    )


def test_a_payment_is_ordered_with_its_deadline_R_PAY_3() -> None:
    payment = a_payment()
    assert payment.status is PaymentStatus.DUE
    assert payment.deadline == date(2027, 2, 9)
    assert isinstance(payment.events[0], PaymentOrdered)
    assert payment.events[0].due_date == date(2027, 2, 9)


def test_nothing_due_at_0_percent_is_settled_at_once_for_nothing_R_PAY_1() -> None:
    payment = a_payment(0)
    assert payment.status is PaymentStatus.SETTLED
    assert [type(e) for e in payment.events] == [PaymentOrdered, PaymentSettled]


def test_full_lifecycle_settles_exactly_the_amount_due_once_R_PAY_3() -> None:
    payment = a_payment()
    details = uuid4()
    e2e = payment.batch(batch_id=uuid4(), bank_details_id=details)
    assert e2e == f"{payment.dossier_id.hex}-1" and len(e2e) <= 35
    payment.send(sepa_message_id="MSG")
    payment.settle(on=date(2027, 1, 20))
    assert (payment.status, payment.settled_cents) == (PaymentStatus.SETTLED, payment.amount_cents)
    with pytest.raises(InvalidTransition):
        payment.settle(on=date(2027, 1, 21))
    assert payment.settled_cents == payment.amount_cents
    assert [type(e) for e in payment.events] == [PaymentOrdered, PaymentSent, PaymentSettled]


def test_a_rejected_payment_waits_for_new_verified_details_then_gets_a_new_end_to_end_id_R_PAY_3() -> None:
    payment = a_payment()
    first_details = uuid4()
    payment.batch(batch_id=uuid4(), bank_details_id=first_details)
    payment.send(sepa_message_id="MSG")
    payment.reject(reason_code="AC04", on=date(2027, 1, 20))
    assert isinstance(payment.events[-1], PaymentRejected)
    assert not payment.can_be_batched_to(first_details)
    with pytest.raises(RuleBroken) as refused:
        payment.batch(batch_id=uuid4(), bank_details_id=first_details)
    assert refused.value.rule_id == "R-PAY-3"
    new_details = uuid4()
    assert payment.can_be_batched_to(new_details)
    assert payment.batch(batch_id=uuid4(), bank_details_id=new_details).endswith("-2")


@pytest.mark.parametrize("status", list(PaymentStatus))
@pytest.mark.parametrize("action", ["batch", "send", "settle", "reject"])
def test_every_transition_not_in_the_table_is_refused_R_PAY_3(status: PaymentStatus, action: str) -> None:
    payment = a_payment()
    payment.status = status
    payment.bank_details_id = uuid4()
    calls = {
        "batch": lambda: payment.batch(batch_id=uuid4(), bank_details_id=uuid4()),
        "send": lambda: payment.send(sepa_message_id="M"),
        "settle": lambda: payment.settle(on=date(2027, 1, 20)),
        "reject": lambda: payment.reject(reason_code="AC04", on=date(2027, 1, 20)),
    }
    if (status, action) in TRANSITIONS:
        calls[action]()
        assert payment.status is TRANSITIONS[(status, action)]
    else:
        with pytest.raises(InvalidTransition):
            calls[action]()


def proposal(entered_by: str = "agent-a", iban: str = IBAN, bic: str = "AGRIFRPP") -> BankDetails:
    return BankDetails.propose(
        siret="12345678900011",
        iban=iban,
        bic=bic,
        holder_name="  Institut  X ",
        entered_by=entered_by,
        now=NOW,
    )


def test_valid_bank_details_wait_for_verification_R_PAY_3() -> None:
    details = proposal(iban="fr76 3000 6000 0112 3456 7890 189")
    assert details.iban == IBAN and details.holder_name == "Institut X"
    assert details.status is BankDetailsStatus.PENDING and not details.is_verified


def test_invalid_iban_and_bic_are_refused_together_without_repeating_them_R_PAY_3() -> None:
    with pytest.raises(RulesBroken) as refused:
        proposal(iban="FR7630006000011234567890188", bic="ZZZZ")
    assert [rule.field for rule in refused.value.broken] == ["iban", "bic"]
    assert "FR763000" not in str(refused.value)


def test_the_agent_who_entered_details_cannot_verify_them_R_PAY_3() -> None:
    details = proposal(entered_by="agent-a")
    with pytest.raises(RuleBroken) as refused:
        details.verify(by="agent-a", now=NOW)
    assert refused.value.rule_id == "R-PAY-3"
    assert details.status is BankDetailsStatus.PENDING
    details.verify(by="agent-b", now=NOW)
    assert details.is_verified and details.decided_by == "agent-b"
    with pytest.raises(InvalidTransition):
        details.verify(by="agent-c", now=NOW)


def test_iban_is_masked_and_never_in_the_repr() -> None:
    assert mask_iban(IBAN) == "FR76 **** **** **** **** ***0 189"
    assert IBAN not in repr(proposal())


def test_a_status_report_without_details_applies_its_group_status_to_every_transfer_R_PAY_3() -> None:
    report = StatusReport("M", TransferStatus.REJECTED, "AM05", ())
    verdicts, unknown = report.verdicts(["a-1", "b-1"])
    assert [(v.end_to_end_id, v.status, v.reason_code) for v in verdicts] == [
        ("a-1", TransferStatus.REJECTED, "AM05"),
        ("b-1", TransferStatus.REJECTED, "AM05"),
    ]
    assert unknown == []


def test_a_status_report_lists_the_transfers_the_batch_does_not_hold() -> None:
    report = StatusReport(
        "M",
        None,
        None,
        (
            ReportedTransfer("a-1", TransferStatus.ACCEPTED),
            ReportedTransfer("zz-1", TransferStatus.REJECTED, "AC04"),
        ),
    )
    verdicts, unknown = report.verdicts(["a-1"])
    assert [v.end_to_end_id for v in verdicts] == ["a-1"] and unknown == ["zz-1"]


def test_message_id_fits_iso_max35() -> None:
    assert len(message_id(uuid4(), date(2027, 1, 15))) <= 35
