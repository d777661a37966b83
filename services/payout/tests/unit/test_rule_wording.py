"""The mutants the last mutation run left alive (docs/mutation/payout.md): each refusal's exact words, the
one-character holder name, the name of the refused step, and every field a new payment records."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest
from payout.domain.allocation import allocate
from payout.domain.fund import check_period
from payout.domain.payees import BankDetails, checked_bic, checked_iban
from payout.domain.payments import Payment, PaymentStatus
from servicekit.rules import InvalidTransition, RuleBroken, RulesBroken

NOW = datetime(2027, 1, 15, 10, tzinfo=UTC)
IBAN = "FR7630006000011234567890189"


def _refusal(call: object) -> RuleBroken:
    assert callable(call)
    with pytest.raises(RuleBroken) as refused:
        call()
    return refused.value


def test_an_empty_plan_is_refused_in_exact_words_R_PAY_2() -> None:
    refused = _refusal(lambda: allocate([], 1_000))
    assert refused.rule_id == "R-PAY-2"
    assert refused.message == "no funding plan line to take the amount due from"


def test_a_period_ending_before_it_starts_is_refused_in_exact_words_R_FUND_1() -> None:
    refused = _refusal(lambda: check_period(date(2027, 2, 1), date(2027, 1, 31)))
    assert (refused.rule_id, refused.field, refused.message) == (
        "R-FUND-1",
        "to",
        "the period ends before it starts",
    )


def test_a_bad_iban_and_a_bad_bic_are_refused_in_exact_words_R_PAY_3() -> None:
    iban = _refusal(lambda: checked_iban("FR7630006000011234567890180"))
    bic = _refusal(lambda: checked_bic("NOTABIC!"))
    assert (iban.field, iban.message) == ("iban", "the IBAN is not valid (format or check digits)")
    assert (bic.field, bic.message) == ("bic", "the BIC is not valid (ISO 9362)")


def _propose(name: str = "Institut X", entered_by: str = "agent-a") -> BankDetails:
    return BankDetails.propose(
        siret="12345678900011", iban=IBAN, bic="AGRIFRPP", holder_name=name, entered_by=entered_by, now=NOW
    )


def test_a_one_character_holder_name_is_accepted_R_PAY_3() -> None:
    assert _propose(" X ").holder_name == "X"


def test_a_holder_name_with_control_characters_is_refused_in_exact_words_R_PAY_3() -> None:
    with pytest.raises(RulesBroken) as refused:
        _propose("a\x07b")
    (rule,) = refused.value.broken
    assert rule.message == "the holder name holds control characters"


def test_each_proposal_gets_its_own_id_R_PAY_3() -> None:
    first, second = _propose(), _propose()
    assert isinstance(first.details_id, UUID) and first.details_id != second.details_id


def test_the_four_eyes_refusal_is_in_exact_words_R_PAY_3() -> None:
    details = _propose(entered_by="agent-a")
    refused = _refusal(lambda: details.verify(by="agent-a", now=NOW))
    assert refused.message == (
        "four eyes: bank details are verified by an agent other than the person who entered them"
    )


def test_refusing_decided_details_names_the_refusal_R_PAY_3() -> None:
    details = _propose(entered_by="agent-a")
    details.verify(by="agent-b", now=NOW)
    with pytest.raises(InvalidTransition) as refused:
        details.refuse(by="agent-c", now=NOW)
    assert (refused.value.current, refused.value.wanted) == ("verified", "refuse")


def _ordered(amount_cents: int, percent: int = 100) -> Payment:
    return Payment.order(
        dossier_id=uuid4(),
        elu_id=UUID(int=7),
        siret="12345678900011",
        amount_cents=amount_cents,
        realisation_percent=percent,
        validated_on=date(2027, 1, 4),
    )


def test_a_payment_records_the_elu_the_percent_and_the_validation_day_R_PAY_1() -> None:
    payment = _ordered(45_000, percent=80)
    assert (payment.elu_id, payment.realisation_percent, payment.validated_on) == (
        UUID(int=7),
        80,
        date(2027, 1, 4),
    )


def test_a_payment_of_nothing_is_settled_on_its_validation_day_R_PAY_1() -> None:
    payment = _ordered(0, percent=0)
    assert (payment.status, payment.settled_on) == (PaymentStatus.SETTLED, date(2027, 1, 4))


def test_a_rejected_payment_sent_again_to_the_same_details_is_refused_in_exact_words_R_PAY_3() -> None:
    payment = _ordered(45_000)
    details = uuid4()
    payment.batch(batch_id=uuid4(), bank_details_id=details)
    payment.status = PaymentStatus.REJECTED
    refused = _refusal(lambda: payment.batch(batch_id=uuid4(), bank_details_id=details))
    assert refused.message == (
        "a rejected payment waits for newly verified bank details before it is sent again"
    )
