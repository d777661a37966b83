"""R-ACC-1..4 and R-END-1: crediting, calendar, end of mandate, hold eligibility."""

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from rights_ledger.domain.ledger import Account
from rights_ledger.domain.mandates import (
    AccountStatus,
    HoldRejectionReason,
    Mandate,
    TrainingPurpose,
    add_months,
    credited_in_campaign,
    crediting_family,
    expiry_due,
    hold_rejection,
    mandate_training_allowed,
    reinsertion_until,
    rights_usable_until,
)
from rights_ledger.domain.parameters import (
    CampaignFamily,
    CampaignRef,
    MandateFamily,
    RightsParameters,
    campaign_date,
    credit_amount,
    crediting_date,
    parameters_at,
)

CAMPAIGN_2026 = CampaignRef(2026, CampaignFamily.MUNICIPAL)

NOW = datetime(2026, 3, 30, tzinfo=UTC)
P2026 = parameters_at(date(2026, 3, 30))


@pytest.mark.parametrize(("balance", "credited"), [(0, 40_000), (50_000, 30_000), (80_000, 0), (79_999, 1)])
def test_credit_is_400_euros_capped_at_800_euros_R_ACC_2(balance: int, credited: int) -> None:
    assert credit_amount(balance, P2026) == credited


def test_credit_is_capped_at_800_euros_R_ACC_2() -> None:
    account = Account(uuid4(), balance_cents=50_000)
    movement = account.credit(
        P2026, NOW, "campaign municipal 2026", campaign=CAMPAIGN_2026, on=date(2026, 3, 30)
    )
    assert movement is not None and movement.amount_cents == 30_000
    assert account.balance_cents == 80_000
    assert account.credit(P2026, NOW, "again", campaign=CAMPAIGN_2026, on=date(2026, 3, 30)) is None


def test_credit_is_never_negative_above_a_lowered_cap_R_ACC_2() -> None:
    assert credit_amount(120_000, P2026) == 0


def test_cap_is_a_dated_parameter_R_ACC_2() -> None:
    assert parameters_at(date(2021, 12, 31)).cap_cents == 150_000
    assert parameters_at(date(2022, 7, 5)).cap_cents == 70_000
    assert parameters_at(date(2023, 3, 26)).cap_cents == 70_000
    assert parameters_at(date(2023, 3, 27)).cap_cents == 80_000
    assert parameters_at(date(2030, 1, 1)).yearly_credit_cents == 40_000
    table = (RightsParameters(date(2000, 1, 1), 10, 20, "test"),)
    assert parameters_at(date(2001, 1, 1), table).cap_cents == 20
    with pytest.raises(ValueError):
        parameters_at(date(1999, 1, 1), table)


def test_municipal_on_30_march_departmental_on_5_july_R_ACC_3() -> None:
    assert crediting_date(MandateFamily.MUNICIPAL, 2026) == date(2026, 3, 30)
    assert crediting_date(MandateFamily.COMMUNAUTAIRE, 2026) == date(2026, 3, 30)
    assert crediting_date(MandateFamily.DEPARTMENTAL, 2026) == date(2026, 7, 5)
    assert crediting_date(MandateFamily.REGIONAL, 2026) == date(2026, 7, 5)
    assert campaign_date(CampaignFamily.MUNICIPAL, 2027) == date(2027, 3, 30)
    assert campaign_date(CampaignFamily.OTHER, 2027) == date(2027, 7, 5)


def test_several_mandates_credit_on_the_date_of_the_one_held_longest_R_ACC_3() -> None:
    mandates = [
        Mandate(MandateFamily.DEPARTMENTAL, date(2015, 3, 29)),
        Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28)),
    ]
    assert crediting_family(mandates, date(2026, 3, 30)) is CampaignFamily.OTHER
    assert not credited_in_campaign(mandates, CampaignFamily.MUNICIPAL, 2026)
    assert credited_in_campaign(mandates, CampaignFamily.OTHER, 2026)


def test_two_mandates_of_one_family_give_one_credit_of_400_euros_in_march_R_ACC_1() -> None:
    """The domain decides *which* campaign credits and *how much*; at most one credit per élu and year is the
    primary key of the credits table (adapters/crediting.py), proven by the integration tests."""
    mandates = [
        Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28)),
        Mandate(MandateFamily.COMMUNAUTAIRE, date(2020, 7, 10)),
    ]
    assert crediting_family(mandates, date(2025, 3, 30)) is CampaignFamily.MUNICIPAL
    assert credited_in_campaign(mandates, CampaignFamily.MUNICIPAL, 2025)
    account = Account(uuid4())
    movement = account.credit(
        parameters_at(date(2025, 3, 30)),
        NOW,
        "campaign municipal 2025",
        campaign=CampaignRef(2025, CampaignFamily.MUNICIPAL),
        on=date(2025, 3, 30),
    )
    assert movement is not None and movement.amount_cents == 40_000
    assert account.journal == [movement]


def test_newly_elected_is_credited_at_the_first_campaign_after_the_start_R_ACC_4() -> None:
    elected_in_may = [Mandate(MandateFamily.MUNICIPAL, date(2026, 5, 10))]
    assert not credited_in_campaign(elected_in_may, CampaignFamily.MUNICIPAL, 2026)
    assert credited_in_campaign(elected_in_may, CampaignFamily.OTHER, 2026)
    assert credited_in_campaign(elected_in_may, CampaignFamily.MUNICIPAL, 2027)


def test_no_pro_rata_a_mandate_started_on_the_campaign_day_counts_in_full_R_ACC_4() -> None:
    assert credited_in_campaign(
        [Mandate(MandateFamily.MUNICIPAL, date(2026, 3, 30))], CampaignFamily.MUNICIPAL, 2026
    )


def test_no_credit_once_the_last_mandate_ended_R_END_1() -> None:
    ended = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28), date(2026, 3, 22))]
    assert not credited_in_campaign(ended, CampaignFamily.MUNICIPAL, 2026)
    assert not credited_in_campaign(ended, CampaignFamily.OTHER, 2026)


def test_six_month_window_after_the_last_mandate_R_END_1() -> None:
    mandates = [
        Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28), date(2026, 3, 22)),
        Mandate(MandateFamily.COMMUNAUTAIRE, date(2020, 7, 10), date(2026, 4, 10)),
    ]
    assert reinsertion_until(mandates, None) == date(2026, 10, 10)
    assert not expiry_due(mandates, None, date(2026, 10, 10))
    assert expiry_due(mandates, None, date(2026, 10, 11))
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)


def test_pension_closes_the_reinsertion_window_R_END_1() -> None:
    mandates = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28), date(2026, 3, 22))]
    assert reinsertion_until(mandates, date(2026, 5, 1)) is None
    assert rights_usable_until(mandates, date(2026, 5, 1)) == date(2026, 5, 1)
    assert rights_usable_until(mandates, date(2019, 1, 1)) == date(2026, 3, 22)
    assert expiry_due(mandates, date(2026, 5, 1), date(2026, 5, 2))


def test_no_expiry_while_a_mandate_runs_R_END_1() -> None:
    mandates = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28))]
    assert not expiry_due(mandates, date(2026, 1, 1), date(2030, 1, 1))
    assert mandate_training_allowed(mandates, date(2026, 1, 1))


def test_expiry_is_an_explicit_movement_of_the_available_balance_R_END_1() -> None:
    account = Account(uuid4(), balance_cents=60_000, held_cents=10_000)
    movement = account.expire(NOW, "expiry run", as_of=NOW.date())
    assert movement is not None
    assert (movement.kind, movement.amount_cents, movement.balance_after_cents) == ("expiry", 50_000, 10_000)
    assert account.expire(NOW, "again", as_of=NOW.date()) is None


ENDED = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28), date(2026, 3, 22))]
RUNNING = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28))]


def _rejection(
    purpose: TrainingPurpose,
    start: date,
    end: date,
    mandates: list[Mandate],
    pension: date | None = None,
    status: AccountStatus = AccountStatus.ACTIVE,
) -> HoldRejectionReason | None:
    return hold_rejection(
        purpose=purpose,
        training_start=start,
        training_end=end,
        mandates=mandates,
        pension_liquidated_on=pension,
        account_status=status,
    )


def test_reinsertion_hold_inside_the_window_is_accepted_R_END_1() -> None:
    assert _rejection(TrainingPurpose.REINSERTION, date(2026, 5, 1), date(2026, 9, 22), ENDED) is None


def test_reinsertion_hold_ending_after_the_window_is_rejected_R_END_1() -> None:
    rejection = _rejection(TrainingPurpose.REINSERTION, date(2026, 9, 1), date(2026, 9, 23), ENDED)
    assert rejection is HoldRejectionReason.NOT_ELIGIBLE


def test_reinsertion_hold_after_a_pension_is_rejected_R_END_1() -> None:
    rejection = _rejection(
        TrainingPurpose.REINSERTION, date(2026, 5, 1), date(2026, 6, 1), ENDED, pension=date(2026, 4, 1)
    )
    assert rejection is HoldRejectionReason.NOT_ELIGIBLE


def test_mandate_hold_after_the_end_is_rejected_R_END_1() -> None:
    rejection = _rejection(TrainingPurpose.MANDATE, date(2026, 4, 1), date(2026, 4, 2), ENDED)
    assert rejection is HoldRejectionReason.NOT_ELIGIBLE


def test_mandate_hold_inside_a_running_mandate_is_accepted_R_DOS_2() -> None:
    assert _rejection(TrainingPurpose.MANDATE, date(2026, 4, 1), date(2026, 4, 2), RUNNING) is None
    ending_too_late = _rejection(TrainingPurpose.MANDATE, date(2026, 3, 1), date(2026, 3, 23), ENDED)
    assert ending_too_late is HoldRejectionReason.NOT_ELIGIBLE


def test_hold_on_an_inactive_account_is_rejected_R_ACT_1() -> None:
    rejection = _rejection(
        TrainingPurpose.MANDATE, date(2026, 4, 1), date(2026, 4, 2), RUNNING, status=AccountStatus.INACTIVE
    )
    assert rejection is HoldRejectionReason.ACCOUNT_INACTIVE
