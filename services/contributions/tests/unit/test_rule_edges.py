"""Each rule on both sides of its edge and with its exact wording (what the mutation score asks of us)."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from contributions.domain.collectivites import Collectivite, CollectiviteType, normalise_siren
from contributions.domain.declarations import (
    MAX_LINE_ALLOWANCE_CENTS,
    AllowanceLine,
    LineProblem,
    declare,
    refuse_bad_lines,
)
from contributions.domain.matching import BankCredit, MatchedBy, match_credit, sirens_in
from contributions.domain.periods import ContributionPeriod, creditor_reference, read_creditor_reference
from contributions.domain.policy import DEFAULT_POLICY
from contributions.domain.settlement import (
    MAX_PAYMENT_CENTS,
    Payment,
    PaymentSource,
    PeriodAccount,
    status_of,
)
from dife_contracts.enums import Periodicity, PeriodStatus
from dife_contracts.events import PaymentReceived, PeriodSettled
from servicekit.rules import RuleBroken, RulesBroken
from stdnum import iso11649

SIREN = "217500016"
OTHER = "200054781"
MARCH = ContributionPeriod.parse("2026-03")
AT = datetime(2026, 4, 2, 8, tzinfo=UTC)


def commune(kind: CollectiviteType = CollectiviteType.COMMUNE) -> Collectivite:
    return Collectivite(SIREN, "Ville", kind, date(2026, 1, 1))


def test_a_siren_is_read_from_at_most_20_characters() -> None:
    assert normalise_siren(" 217 500 016".ljust(20)) == SIREN
    assert normalise_siren(" 217 500 016".ljust(21)) is None
    not_text: Any = None
    assert normalise_siren(not_text) is None


def test_the_refusal_of_a_syndicat_names_the_rule_the_field_and_why_R_CON_1() -> None:
    with pytest.raises(RuleBroken) as refused:
        commune(CollectiviteType.SYNDICAT).ensure_subject()
    assert refused.value == RuleBroken(
        "R-CON-1",
        "a collectivité of type syndicat is not subject to the 1 % contribution (only communes, EPCI à "
        "fiscalité propre, départements, régions, Guyane and Martinique are): nothing to declare or pay",
        field="siren",
    )


def test_one_bad_line_is_told_in_the_singular_R_CON_2() -> None:
    with pytest.raises(RulesBroken) as refused:
        refuse_bad_lines([LineProblem(7, "month is wrong")])
    assert refused.value.broken == [
        RuleBroken(
            "R-CON-2",
            "the declaration was NOT recorded: 1 line is wrong; fix it and send the whole declaration again",
            field="lines",
        ),
        RuleBroken("R-CON-2", "line 7: month is wrong", field="line 7"),
    ]


def test_several_bad_lines_are_told_in_the_plural_R_CON_2() -> None:
    with pytest.raises(RulesBroken) as refused:
        refuse_bad_lines([LineProblem(3, "a"), LineProblem(9, "b")])
    assert refused.value.broken[0].message == (
        "the declaration was NOT recorded: 2 lines are wrong; fix them and send the whole declaration again"
    )
    assert [(r.message, r.field) for r in refused.value.broken[1:]] == [
        ("line 3: a", "line 3"),
        ("line 9: b", "line 9"),
    ]
    refuse_bad_lines([])  # nothing wrong: nothing raised


def test_a_period_of_another_periodicity_is_refused_with_its_reason_R_CON_3() -> None:
    with pytest.raises(RuleBroken) as refused:
        declare(
            commune(),
            ContributionPeriod.parse("2026-Q1"),
            periodicity=Periodicity.MONTHLY,
            lines=[],
            current_version=0,
            received_at=AT,
            policy=DEFAULT_POLICY,
        )
    assert refused.value == RuleBroken(
        "R-CON-3",
        "Ville declares monthly periods in 2026 (from its last known annual total); 2026-Q1 is not one",
        field="period",
    )


def test_a_declaration_keeps_its_lines_and_reception_time_R_CON_4() -> None:
    lines = [AllowanceLine(2, date(2026, 3, 1), 100, elu_id=uuid.uuid4())]
    declaration = declare(
        commune(),
        MARCH,
        periodicity=Periodicity.MONTHLY,
        lines=lines,
        current_version=3,
        received_at=AT,
        policy=DEFAULT_POLICY,
    )
    assert declaration.lines == lines and declaration.received_at == AT and declaration.version == 4
    assert declaration.events[0].received_at == AT


def named(**fields: Any) -> AllowanceLine:
    values: dict[str, Any] = {"family_name": "A", "given_names": "B", "birth_date": date(1970, 1, 1)}
    values.update(fields)
    return AllowanceLine(2, date(2026, 3, 1), values.pop("cents", 100), **values)


@pytest.mark.parametrize(
    "line",
    [named(family_name=None), named(given_names=None), named(birth_date=None)],
)
def test_an_elu_without_elu_id_needs_all_three_identity_fields_R_CON_2(line: AllowanceLine) -> None:
    assert line.problems(MARCH) == [
        "the élu is named by elu_id, or by family name, given names and birth date"
    ]


@pytest.mark.parametrize("cents", [0, 1, MAX_LINE_ALLOWANCE_CENTS])
def test_an_allowance_from_0_to_the_maximum_is_accepted_R_CON_2(cents: int) -> None:
    assert named(cents=cents).problems(MARCH) == []


def test_an_allowance_above_the_maximum_is_refused_with_its_reason_R_CON_2() -> None:
    assert named(cents=MAX_LINE_ALLOWANCE_CENTS + 1).problems(MARCH) == [
        f"gross allowance must be between 0 and {MAX_LINE_ALLOWANCE_CENTS} cents, "
        f"got {MAX_LINE_ALLOWANCE_CENTS + 1}"
    ]


def test_a_period_is_refused_with_its_reason_R_CON_3() -> None:
    wrongs: list[Any] = ["2026-13", 202603]
    for wrong in wrongs:
        with pytest.raises(RuleBroken) as refused:
            ContributionPeriod.parse(wrong)
        assert refused.value == RuleBroken(
            "R-CON-3",
            f"{str(wrong)[:20]!r} is not a period: write a month 2026-03, a quarter 2026-Q1 or a year 2026 "
            "(years 2000-2100)",
            field="period",
        )


def test_the_rf_reference_is_the_standard_one_and_only_text_is_read_R_CON_4() -> None:
    assert creditor_reference(SIREN, MARCH) == "RF08217500016202603"
    assert iso11649.is_valid("RF08217500016202603")
    not_text: Any = None
    assert read_creditor_reference(not_text) is None


def test_one_cent_already_makes_a_declared_period_partially_paid_R_CON_4() -> None:
    assert status_of(1_000, 1, date(2026, 4, 15), date(2026, 4, 15)) is PeriodStatus.PARTIALLY_PAID


def pay(cents: int) -> Payment:
    return Payment(uuid.uuid4(), SIREN, MARCH, cents, date(2026, 4, 9), PaymentSource.API)


@pytest.mark.parametrize("cents", [1, MAX_PAYMENT_CENTS])
def test_payments_from_one_cent_to_the_maximum_are_recorded_R_CON_4(cents: int) -> None:
    account = PeriodAccount(SIREN, MARCH, date(2026, 4, 15), declared_cents=100)
    account.record_payment(pay(cents), date(2026, 4, 10))
    assert account.paid_cents == cents
    received = account.events[0]
    assert isinstance(received, PaymentReceived) and received.received_on == date(2026, 4, 9)


def test_a_payment_above_the_maximum_is_refused_with_its_reason_R_CON_4() -> None:
    account = PeriodAccount(SIREN, MARCH, date(2026, 4, 15))
    with pytest.raises(RuleBroken) as refused:
        account.record_payment(pay(MAX_PAYMENT_CENTS + 1), date(2026, 4, 10))
    assert refused.value == RuleBroken(
        "R-CON-4",
        f"a payment is between 1 and {MAX_PAYMENT_CENTS} cents, got {MAX_PAYMENT_CENTS + 1}",
        field="amount_cents",
    )


def test_a_correction_settles_again_a_period_with_one_cent_paid_R_CON_4() -> None:
    account = PeriodAccount(SIREN, MARCH, date(2026, 4, 15), declared_cents=100, paid_cents=1)
    account.record_declaration(200, date(2026, 4, 10))
    assert [type(e) for e in account.events] == [PeriodSettled]


def test_the_daily_refresh_settles_nothing_R_CON_3() -> None:
    account = PeriodAccount(SIREN, MARCH, date(2026, 4, 15), declared_cents=100, paid_cents=100)
    account.refresh(date(2026, 4, 20))
    assert account.events == []


def credit(
    amount: int, *, reference: str | None = None, remittance: str = "", debtor: str | None = None
) -> BankCredit:
    return BankCredit(uuid.uuid4(), "k", amount, date(2026, 4, 10), reference, remittance, debtor)


def test_sirens_are_read_from_the_reference_the_remittance_and_the_debtor() -> None:
    assert sirens_in(credit(1, reference=f"SIREN {SIREN}")) == [SIREN]
    assert sirens_in(credit(1, debtor=f"COMMUNE {OTHER}")) == [OTHER]
    assert sirens_in(credit(1, remittance="217 500 016")) == [SIREN]


def test_each_way_a_credit_matches_or_not_says_so_R_CON_4() -> None:
    open_march = PeriodAccount(SIREN, MARCH, date(2026, 4, 15), declared_cents=500)
    known = frozenset({SIREN})
    by_amount = match_credit(credit(500, remittance=SIREN), known, {SIREN: [open_march]})
    assert by_amount == type(by_amount)(SIREN, MARCH, MatchedBy.SIREN_AND_AMOUNT)
    no_period = match_credit(credit(500, remittance=SIREN), known, {})
    assert no_period == type(no_period)(
        SIREN, None, None, "SIREN found but no declared period has this amount outstanding"
    )
    nothing = match_credit(credit(500), known, {})
    assert nothing == type(nothing)(
        None, None, None, "no creditor reference and no known SIREN in the remittance"
    )
    reference = creditor_reference(SIREN, MARCH)
    told = match_credit(credit(500, reference=reference), known, {}, references=[])
    assert told.matched_by is None  # the caller's reading of the references is used as given
