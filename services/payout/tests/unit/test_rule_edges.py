"""The edges of each rule, on both sides, with the refusal's rule id, field and wording (what callers see)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest
from dife_contracts.enums import FundingSource
from payout.domain.allocation import PlanLine, allocate, late_cancellation
from payout.domain.amounts import amount_due, payment_deadline
from payout.domain.batches import (
    Batch,
    BatchStatus,
    ReportedTransfer,
    StatusReport,
    TransferStatus,
    message_id,
    transfer_status,
)
from payout.domain.fund import Flows, check_period, rolling_start
from payout.domain.payees import BankDetails, BankDetailsStatus, checked_bic, checked_iban, mask_iban
from payout.domain.payments import Payment, PaymentStatus, end_to_end_id
from servicekit.rules import InvalidTransition, RuleBroken, RulesBroken

NOW = datetime(2027, 1, 15, 10, tzinfo=UTC)
IBAN = "FR7630006000011234567890189"


def test_a_free_training_is_owed_nothing_and_a_negative_price_is_refused_R_PAY_1() -> None:
    assert amount_due(0, 100) == 0
    with pytest.raises(RuleBroken) as refused:
        amount_due(-1, 100)
    assert (refused.value.rule_id, refused.value.field) == ("R-PAY-1", "price_cents")
    assert "negative" in refused.value.message and "-1" in refused.value.message


@pytest.mark.parametrize("percent", [-1, 101])
def test_a_percent_just_outside_0_to_100_is_refused_and_named_R_PAY_1(percent: int) -> None:
    with pytest.raises(RuleBroken) as refused:
        amount_due(10_000, percent)
    assert (refused.value.rule_id, refused.value.field) == ("R-PAY-1", "realisation_percent")
    assert f"not {percent}" in refused.value.message
    assert amount_due(10_000, 100) == 10_000 and amount_due(10_000, 0) == 0


def test_the_deadline_crosses_a_leap_february_R_PAY_3() -> None:
    assert payment_deadline(date(2028, 2, 1)) == date(2028, 3, 2)


def test_without_plan_lines_nothing_can_be_allocated_R_PAY_2() -> None:
    with pytest.raises(RuleBroken) as refused:
        allocate([], 0)
    assert refused.value.rule_id == "R-PAY-2" and "no funding plan line" in refused.value.message


def test_the_excess_names_both_amounts_R_PAY_2() -> None:
    with pytest.raises(RuleBroken) as refused:
        allocate([PlanLine(FundingSource.DIFE, 100)], 101)
    assert "101" in refused.value.message and "100" in refused.value.message


def test_late_cancellation_puts_dife_first_and_keeps_references_R_DOS_5() -> None:
    allocation = late_cancellation(
        [PlanLine(FundingSource.ELU_CARD, 5_000, "psp"), PlanLine(FundingSource.DIFE, 40_000, None)]
    )
    assert [(s.source, s.drawn_cents, s.reference) for s in allocation.shares] == [
        (FundingSource.DIFE, 40_000, None),
        (FundingSource.ELU_CARD, 0, "psp"),
    ]


def a_batch() -> Batch:
    return Batch(uuid4(), "DIFE-20270115-x", NOW, date(2027, 1, 15))


def test_a_batch_is_released_once_R_PAY_3() -> None:
    batch = a_batch()
    batch.release(NOW)
    assert (batch.status, batch.released_at) == (BatchStatus.RELEASED, NOW)
    with pytest.raises(InvalidTransition) as refused:
        batch.release(NOW)
    assert (refused.value.current, refused.value.wanted, refused.value.allowed) == ("released", "release", ())
    assert refused.value.rule_id == "R-PAY-3"


def test_message_id_names_the_day_and_the_batch() -> None:
    batch_id = UUID("0123456789abcdef0123456789abcdef")
    assert message_id(batch_id, date(2027, 1, 5)) == "DIFE-20270105-0123456789abcdef0123"


@pytest.mark.parametrize(
    ("code", "status"),
    [
        ("ACCP", TransferStatus.ACCEPTED),
        ("ACSC", TransferStatus.ACCEPTED),
        ("ACSP", TransferStatus.ACCEPTED),
        ("ACCC", TransferStatus.ACCEPTED),
        ("ACWC", TransferStatus.ACCEPTED),
        ("ACTC", TransferStatus.ACCEPTED),
        ("RJCT", TransferStatus.REJECTED),
        ("PDNG", TransferStatus.PENDING),
    ],
)
def test_bank_status_codes(code: str, status: TransferStatus) -> None:
    assert transfer_status(code) is status


def test_a_group_acceptance_without_details_settles_every_transfer_and_pending_changes_nothing() -> None:
    accepted = StatusReport("M", TransferStatus.ACCEPTED, None, ())
    assert accepted.verdicts(["a-1"]) == ([ReportedTransfer("a-1", TransferStatus.ACCEPTED, None)], [])
    pending = StatusReport("M", TransferStatus.PENDING, None, ())
    assert pending.verdicts(["a-1"]) == ([], [])


def test_the_rolling_window_is_the_three_years_ending_on_the_day() -> None:
    assert rolling_start(date(2027, 6, 30)) == date(2024, 7, 1)
    assert rolling_start(date(2028, 2, 29)) == date(2025, 3, 1)
    assert rolling_start(date(2027, 12, 31)) == date(2025, 1, 1)


def test_a_period_of_one_day_is_fine_and_one_ending_before_it_starts_is_refused() -> None:
    check_period(date(2027, 1, 1), date(2027, 1, 1))
    with pytest.raises(RuleBroken) as refused:
        check_period(date(2027, 1, 2), date(2027, 1, 1))
    assert (refused.value.rule_id, refused.value.field) == ("R-FUND-1", "to")
    assert "ends before it starts" in refused.value.message
    assert Flows(date(2027, 1, 1), date(2027, 1, 1), 10, 3).balance_cents == 7


def test_iban_and_bic_are_checked_and_named_R_PAY_3() -> None:
    assert checked_iban("fr76 3000 6000 0112 3456 7890 189") == IBAN
    assert checked_bic("agrifrpp") == "AGRIFRPP"
    with pytest.raises(RuleBroken) as iban:
        checked_iban("FR76")
    assert (iban.value.rule_id, iban.value.field) == ("R-PAY-3", "iban") and "IBAN" in iban.value.message
    with pytest.raises(RuleBroken) as bic:
        checked_bic("AGRI")
    assert (bic.value.rule_id, bic.value.field) == ("R-PAY-3", "bic") and "BIC" in bic.value.message


def test_masking_keeps_country_check_digits_and_last_four() -> None:
    assert mask_iban("FR76 3000 6000 0112 3456 7890 189") == "FR76 **** **** **** **** ***0 189"
    assert mask_iban("DE89370400440532013000") == "DE89 **** **** **** **30 00"


def propose(name: str = "Institut X", entered_by: str = "agent-a") -> BankDetails:
    return BankDetails.propose(
        siret="12345678900011", iban=IBAN, bic="AGRIFRPP", holder_name=name, entered_by=entered_by, now=NOW
    )


def test_the_holder_name_has_1_to_70_printable_characters_R_PAY_3() -> None:
    assert propose("x" * 70).holder_name == "x" * 70
    for bad, words in (("x" * 71, "1 to 70"), ("   ", "1 to 70"), ("a\tb\x00", "control characters")):
        with pytest.raises(RulesBroken) as refused:
            propose(bad)
        (rule,) = refused.value.broken
        assert (rule.rule_id, rule.field) == ("R-PAY-3", "holder_name") and words in rule.message


def test_a_proposal_records_who_entered_it_and_when() -> None:
    details = propose(entered_by="of-1")
    assert (details.siret, details.bic, details.entered_by, details.entered_at) == (
        "12345678900011",
        "AGRIFRPP",
        "of-1",
        NOW,
    )
    assert (details.status, details.decided_by, details.decided_at) == (BankDetailsStatus.PENDING, None, None)


def test_refusal_is_four_eyes_too_and_leaves_a_trace_R_PAY_3() -> None:
    details = propose(entered_by="agent-a")
    with pytest.raises(RuleBroken) as own:
        details.refuse(by="agent-a", now=NOW)
    assert own.value.rule_id == "R-PAY-3" and "four eyes" in own.value.message
    details.refuse(by="agent-b", now=NOW)
    assert (details.status, details.decided_by, details.decided_at) == (
        BankDetailsStatus.REFUSED,
        "agent-b",
        NOW,
    )
    with pytest.raises(InvalidTransition) as again:
        details.verify(by="agent-c", now=NOW)
    assert (again.value.current, again.value.wanted, again.value.rule_id) == ("refused", "verify", "R-PAY-3")


def test_verification_is_dated_and_superseding_retires_the_details() -> None:
    details = propose()
    details.verify(by="agent-b", now=NOW)
    assert details.decided_at == NOW and details.is_verified
    details.supersede()
    assert details.status is BankDetailsStatus.SUPERSEDED and not details.is_verified


def a_payment(amount: int = 10_000) -> Payment:
    return Payment.order(
        dossier_id=UUID("0123456789abcdef0123456789abcdef"),
        elu_id=uuid4(),
        siret="12345678900011",
        amount_cents=amount,
        realisation_percent=70,
        validated_on=date(2027, 1, 14),
    )


def test_an_order_carries_everything_the_organisme_needs_R_PAY_1_R_PAY_3() -> None:
    payment = a_payment()
    (ordered,) = payment.events
    assert (ordered.siret, ordered.amount_cents, ordered.realisation_percent, ordered.due_date) == (
        "12345678900011",
        10_000,
        70,
        date(2027, 2, 13),
    )
    assert (payment.status, payment.attempts, payment.settled_cents) == (PaymentStatus.DUE, 0, 0)


def test_a_payment_is_overdue_only_after_its_deadline_and_until_settled_R_PAY_3() -> None:
    payment = a_payment()
    assert not payment.is_overdue(date(2027, 2, 13))
    assert payment.is_overdue(date(2027, 2, 14))
    payment.status = PaymentStatus.SETTLED
    assert not payment.is_overdue(date(2027, 2, 14))


def test_end_to_end_ids_run_out_after_attempt_99_R_PAY_3() -> None:
    dossier = UUID("0123456789abcdef0123456789abcdef")
    assert end_to_end_id(dossier, 99) == "0123456789abcdef0123456789abcdef-99"
    with pytest.raises(RuleBroken) as refused:
        end_to_end_id(dossier, 100)
    assert refused.value.rule_id == "R-PAY-3" and "attempt 100" in refused.value.message


def test_each_step_records_its_facts_R_PAY_3() -> None:
    payment = a_payment()
    details, batch_id = uuid4(), uuid4()
    payment.batch(batch_id=batch_id, bank_details_id=details)
    assert (payment.batch_id, payment.bank_details_id, payment.attempts) == (batch_id, details, 1)
    payment.send(sepa_message_id="MSG-1")
    assert payment.events[-1].sepa_message_id == "MSG-1"
    payment.reject(reason_code="AC04", on=date(2027, 1, 20))
    assert (payment.rejection_reason, payment.rejected_on) == ("AC04", date(2027, 1, 20))
    assert payment.events[-1].reason_code == "AC04"
    assert not payment.can_be_batched_to(details) and payment.can_be_batched_to(uuid4())
    with pytest.raises(RuleBroken) as same:
        payment.batch(batch_id=uuid4(), bank_details_id=details)
    assert "newly verified" in same.value.message
    payment.batch(batch_id=uuid4(), bank_details_id=uuid4())
    payment.send(sepa_message_id="MSG-2")
    payment.settle(on=date(2027, 1, 25))
    assert (payment.settled_on, payment.events[-1].settled_on) == (date(2027, 1, 25), date(2027, 1, 25))


def test_a_refused_step_names_the_status_and_what_it_allows_R_PAY_3() -> None:
    payment = a_payment()
    with pytest.raises(InvalidTransition) as refused:
        payment.settle(on=date(2027, 1, 20))
    assert (refused.value.current, refused.value.wanted, refused.value.allowed) == (
        "due",
        "settle",
        ("batch",),
    )
    assert refused.value.rule_id == "R-PAY-3"
    assert a_payment().can_be_batched_to(uuid4()) is not False
