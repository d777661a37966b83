"""R-CON-1…4 on the pure domain: subjection, 1 % half up, periodicity and due dates, versions, statuses."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

import pytest
from contributions.domain.collectivites import Collectivite, CollectiviteType, normalise_siren
from contributions.domain.declarations import (
    AllowanceLine,
    Declaration,
    LineProblem,
    contribution_of,
    declare,
)
from contributions.domain.periods import (
    ContributionPeriod,
    creditor_reference,
    last_known_annual_total,
    periodicity_for,
    periods_of_year,
    read_creditor_reference,
)
from contributions.domain.policy import DEFAULT_POLICY, ContributionPolicy
from contributions.domain.settlement import Payment, PaymentSource, PeriodAccount, status_of
from dife_contracts.enums import Periodicity, PeriodStatus
from dife_contracts.events import DeclarationReceived, PaymentReceived, PeriodLate, PeriodSettled
from servicekit.rules import RuleBroken, RulesBroken

PARIS_SIREN = "217500016"
AT = datetime(2026, 4, 2, 9, 0, tzinfo=UTC)


def commune(kind: CollectiviteType = CollectiviteType.COMMUNE) -> Collectivite:
    return Collectivite(PARIS_SIREN, "Commune de test", kind, date(2026, 1, 1))


def line(number: int, cents: int, month: date = date(2026, 3, 1)) -> AllowanceLine:
    return AllowanceLine(number, month, cents, "DUPONT", "Marie", date(1970, 5, 2))


def declare_march(lines: list[AllowanceLine], version: int = 0, **kwargs: Any) -> Declaration:
    return declare(
        commune(),
        ContributionPeriod.parse("2026-03"),
        periodicity=Periodicity.MONTHLY,
        lines=lines,
        current_version=version,
        received_at=AT,
        policy=DEFAULT_POLICY,
        **kwargs,
    )


@pytest.mark.parametrize(
    "kind",
    [
        CollectiviteType.COMMUNE,
        CollectiviteType.EPCI_FISCALITE_PROPRE,
        CollectiviteType.DEPARTEMENT,
        CollectiviteType.REGION,
        CollectiviteType.GUYANE,
        CollectiviteType.MARTINIQUE,
    ],
)
def test_listed_collectivites_are_subject_R_CON_1(kind: CollectiviteType) -> None:
    assert commune(kind).is_subject
    commune(kind).ensure_subject()


@pytest.mark.parametrize("kind", [CollectiviteType.SYNDICAT, CollectiviteType.OTHER])
def test_a_syndicat_declaration_is_refused_with_the_rule_R_CON_1(kind: CollectiviteType) -> None:
    with pytest.raises(RuleBroken) as refused:
        declare(
            commune(kind),
            ContributionPeriod.parse("2026"),
            periodicity=Periodicity.YEARLY,
            lines=[],
            current_version=0,
            received_at=AT,
            policy=DEFAULT_POLICY,
        )
    assert refused.value.rule_id == "R-CON-1"
    assert "not subject" in refused.value.message


def test_siren_is_checked_with_its_luhn_key() -> None:
    assert normalise_siren("217 500 016") == PARIS_SIREN
    assert normalise_siren("217500017") is None
    assert normalise_siren("21750001") is None
    assert normalise_siren("x" * 100) is None


@pytest.mark.parametrize(
    ("gross_cents", "contribution_cents"),
    [(123_456, 1_235), (50, 1), (49, 0), (150, 2), (149, 1), (0, 0), (100, 1)],
)
def test_contribution_is_one_percent_rounded_half_up_per_line_R_CON_2(
    gross_cents: int, contribution_cents: int
) -> None:
    """1,234.56 € → 12.35 €; 0.50 € → 0.01 €; 0.49 € → 0.00 €."""
    assert contribution_of(gross_cents, DEFAULT_POLICY) == contribution_cents


def test_declaration_total_is_the_sum_of_its_rounded_lines_R_CON_2() -> None:
    declaration = declare_march([line(2, 50), line(3, 50), line(4, 123_456)])
    assert declaration.line_contributions == [1, 1, 1_235]
    assert declaration.contribution_cents == 1_237
    assert declaration.allowances_cents == 123_556
    assert declaration.line_count == 3
    # rounded per line, not on the total (1 % of 1.00 € is 0.01 €, the two 0.50 € make 0.02 €)
    (event,) = declaration.events
    assert isinstance(event, DeclarationReceived)
    assert event.contribution_cents == 1_237 and event.version == 1 and event.period == "2026-03"


def test_a_declaration_with_bad_lines_is_refused_naming_each_line_R_CON_2() -> None:
    with pytest.raises(RulesBroken) as refused:
        declare_march(
            [line(2, 100), line(3, 100, month=date(2026, 4, 1)), AllowanceLine(4, date(2026, 3, 1), 5)],
            unreadable=[LineProblem(5, "gross allowance is not a whole number of cents")],
        )
    messages = [rule.message for rule in refused.value.broken]
    assert set(refused.value.rule_ids) == {"R-CON-2"}
    assert "NOT recorded" in messages[0]
    assert messages[1].startswith("line 3: month 2026-04 is outside the period 2026-03")
    assert messages[2].startswith("line 4: the élu is named by elu_id")
    assert messages[3].startswith("line 5: gross allowance")


def test_a_period_of_another_periodicity_is_refused_R_CON_3() -> None:
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
    assert refused.value.rule_id == "R-CON-3"


def test_a_correction_is_the_next_version_R_CON_4() -> None:
    first = declare_march([line(2, 100_000)])
    second = declare_march([line(2, 120_000)], version=first.version)
    assert second.version == 2
    assert second.contribution_cents == 1_200


@pytest.mark.parametrize(
    ("annual_cents", "periodicity"),
    [
        (350_001, Periodicity.MONTHLY),
        (350_000, Periodicity.QUARTERLY),
        (50_000, Periodicity.QUARTERLY),
        (49_999, Periodicity.YEARLY),
        (0, Periodicity.YEARLY),
    ],
)
def test_periodicity_at_the_thresholds_of_500_and_3500_euros_R_CON_3(
    annual_cents: int, periodicity: Periodicity
) -> None:
    assert periodicity_for(annual_cents, DEFAULT_POLICY) is periodicity


@pytest.mark.parametrize(
    ("period", "due"),
    [
        ("2026-03", date(2026, 4, 15)),
        ("2026-12", date(2027, 1, 15)),
        ("2026-Q1", date(2026, 4, 15)),
        ("2026-Q4", date(2027, 1, 15)),
        ("2026", date(2027, 1, 15)),
    ],
)
def test_due_dates_the_15th_of_the_next_month_or_15_january_R_CON_3(period: str, due: date) -> None:
    assert ContributionPeriod.parse(period).due_date(DEFAULT_POLICY) == due


def test_yearly_due_date_is_a_policy_value_R_CON_3() -> None:
    policy = ContributionPolicy(yearly_due_month=2, yearly_due_day=28)
    assert ContributionPeriod.parse("2026").due_date(policy) == date(2027, 2, 28)


def test_calendars_of_a_year_R_CON_3() -> None:
    assert [str(p) for p in periods_of_year(2026, Periodicity.QUARTERLY)] == [
        "2026-Q1",
        "2026-Q2",
        "2026-Q3",
        "2026-Q4",
    ]
    assert len(periods_of_year(2026, Periodicity.MONTHLY)) == 12
    assert [str(p) for p in periods_of_year(2026, Periodicity.YEARLY)] == ["2026"]


def test_last_known_annual_total_prefers_the_previous_year_R_CON_3() -> None:
    assert last_known_annual_total(400_000, 10_000) == 400_000
    assert last_known_annual_total(None, 10_000) == 10_000
    assert last_known_annual_total(None, None) == 0


@pytest.mark.parametrize("text", ["2026-13", "2026-Q5", "26", "2026-3", "1999", "2026-03\x00", "x" * 1000])
def test_malformed_periods_are_refused_R_CON_3(text: str) -> None:
    with pytest.raises(RuleBroken) as refused:
        ContributionPeriod.parse(text)
    assert refused.value.rule_id == "R-CON-3"


@pytest.mark.parametrize("period", ["2026-03", "2026-Q1", "2026"])
def test_creditor_reference_is_iso_11649_and_reads_back_R_CON_4(period: str) -> None:
    reference = creditor_reference(PARIS_SIREN, ContributionPeriod.parse(period))
    assert reference.startswith("RF")
    assert read_creditor_reference(reference) == (PARIS_SIREN, ContributionPeriod.parse(period))
    tampered = reference[:-1] + ("1" if reference[-1] != "1" else "2")
    assert read_creditor_reference(tampered) is None


DUE = date(2026, 4, 15)


@pytest.mark.parametrize(
    ("declared", "paid", "today", "status"),
    [
        (1_000, 0, DUE, PeriodStatus.DUE),
        (1_000, 400, DUE, PeriodStatus.PARTIALLY_PAID),
        (1_000, 1_000, DUE, PeriodStatus.PAID),
        (1_000, 1_001, DUE, PeriodStatus.OVERPAID),
        (1_000, 999, date(2026, 4, 16), PeriodStatus.LATE),
        (1_000, 0, date(2026, 4, 16), PeriodStatus.LATE),
        (1_000, 1_000, date(2026, 4, 16), PeriodStatus.PAID),
        (None, 0, DUE, PeriodStatus.DUE),
        (None, 500, date(2026, 4, 16), PeriodStatus.LATE),
        (0, 0, date(2026, 4, 16), PeriodStatus.PAID),
    ],
)
def test_each_payment_status_R_CON_4(
    declared: int | None, paid: int, today: date, status: PeriodStatus
) -> None:
    assert status_of(declared, paid, DUE, today) is status


def march_account() -> PeriodAccount:
    return PeriodAccount(PARIS_SIREN, ContributionPeriod.parse("2026-03"), DUE)


def payment(cents: int) -> Payment:
    return Payment(
        uuid.uuid4(), PARIS_SIREN, ContributionPeriod.parse("2026-03"), cents, DUE, PaymentSource.API
    )


def test_a_payment_settles_the_period_with_events_R_CON_4() -> None:
    account = march_account()
    account.record_declaration(1_000, DUE)
    assert account.events == []
    account.record_payment(payment(400), DUE)
    assert account.status is PeriodStatus.PARTIALLY_PAID
    account.record_payment(payment(600), DUE)
    assert account.status is PeriodStatus.PAID
    kinds = [type(event) for event in account.events]
    assert kinds == [PaymentReceived, PeriodSettled, PaymentReceived, PeriodSettled]
    last = account.events[-1]
    assert isinstance(last, PeriodSettled) and last.paid_cents == 1_000 and last.status is PeriodStatus.PAID


def test_a_period_turns_late_the_day_after_its_due_date_once_R_CON_3() -> None:
    account = march_account()
    account.record_declaration(1_000, DUE)
    assert not account.refresh(DUE)
    assert account.refresh(date(2026, 4, 16))
    assert account.status is PeriodStatus.LATE
    assert not account.refresh(date(2026, 4, 17))
    late = [event for event in account.events if isinstance(event, PeriodLate)]
    assert len(late) == 1 and late[0].outstanding_cents == 1_000 and late[0].due_date == DUE


def test_a_late_period_paid_in_full_becomes_paid_R_CON_4() -> None:
    account = march_account()
    account.record_declaration(1_000, date(2026, 4, 20))
    account.record_payment(payment(1_000), date(2026, 4, 20))
    assert account.status is PeriodStatus.PAID


def test_a_payment_must_be_positive_R_CON_4() -> None:
    with pytest.raises(RuleBroken) as refused:
        march_account().record_payment(payment(0), DUE)
    assert refused.value.rule_id == "R-CON-4"
