"""Each kind of movement carries its typed references and its value date (the Paris date it takes effect);
nothing is ever dated after the Paris day of its recording (R-ACC-3, R-END-1, R-FUN-1, R-PAY-2, R-ACC-2)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest
from dife_contracts.enums import TrainingPurpose
from dife_contracts.events import AccountAdjusted
from rights_ledger.domain.ledger import Account, Hold, HoldTerms, Movement, MovementKind
from rights_ledger.domain.parameters import CampaignFamily, CampaignRef, parameters_at

P2026 = parameters_at(date(2026, 3, 30))
MUNICIPAL_2026 = CampaignRef(2026, CampaignFamily.MUNICIPAL)
LATE_EVENING_UTC = datetime(2026, 9, 1, 22, 30, tzinfo=UTC)
"""00:30 on 2 September in Paris (summer time): the Paris day is not the UTC day."""
PARIS_DAY = date(2026, 9, 2)


def _references(movement: Movement) -> tuple[object, ...]:
    return (movement.campaign, movement.hold_id, movement.dossier_id, movement.adjustment_id)


def _hold(account: Account, amount_cents: int = 10_000) -> Hold:
    dossier_id = uuid4()
    terms = HoldTerms(dossier_id, TrainingPurpose.MANDATE, date(2026, 10, 1), date(2026, 10, 2))
    return Hold(uuid4(), account.elu_id, amount_cents, str(dossier_id), terms=terms)


def _dossier(hold: Hold) -> UUID:
    assert hold.terms is not None
    return hold.terms.dossier_id


def test_a_credit_names_its_campaign_and_takes_effect_on_the_campaign_date_R_ACC_3() -> None:
    account = Account(uuid4())
    movement = account.credit(
        P2026, LATE_EVENING_UTC, "campaign municipal 2026", campaign=MUNICIPAL_2026, on=date(2026, 3, 30)
    )
    assert movement is not None
    assert (movement.kind, movement.value_date, movement.at) == (
        MovementKind.CREDIT,
        date(2026, 3, 30),
        LATE_EVENING_UTC,
    )
    assert _references(movement) == (MUNICIPAL_2026, None, None, None)


def test_a_credit_dated_the_paris_day_of_its_recording_is_accepted_R_ACC_3() -> None:
    """22:30 UTC on 29 March 2026 is already 30 March in Paris (summer time began that night)."""
    account = Account(uuid4())
    at = datetime(2026, 3, 29, 22, 30, tzinfo=UTC)
    movement = account.credit(
        P2026, at, "campaign municipal 2026", campaign=MUNICIPAL_2026, on=date(2026, 3, 30)
    )
    assert movement is not None and movement.value_date == date(2026, 3, 30)


def test_a_credit_dated_after_the_paris_day_of_its_recording_moves_nothing_R_ACC_3() -> None:
    """21:59 UTC on 29 March 2026 is 23:59 on 29 March in Paris: a credit dated 30 March is ahead of time."""
    account = Account(uuid4())
    at = datetime(2026, 3, 29, 21, 59, tzinfo=UTC)
    with pytest.raises(AssertionError, match="value date 2026-03-30 after the day of recording 2026-03-29"):
        account.credit(P2026, at, "campaign municipal 2026", campaign=MUNICIPAL_2026, on=date(2026, 3, 30))
    assert (account.balance_cents, account.journal, account.cap_cents) == (0, [], 80_000)


def test_a_hold_names_its_hold_and_dossier_and_takes_effect_on_the_paris_day_R_FUN_1() -> None:
    account = Account(uuid4(), balance_cents=40_000)
    hold = _hold(account)
    movement = account.place_hold(hold, LATE_EVENING_UTC)
    assert (movement.kind, movement.value_date) == (MovementKind.HOLD, PARIS_DAY)
    assert _references(movement) == (None, hold.hold_id, _dossier(hold), None)


def test_a_capture_and_the_release_of_its_rest_name_the_hold_and_dossier_R_PAY_2() -> None:
    account = Account(uuid4(), balance_cents=40_000)
    hold = _hold(account)
    account.place_hold(hold, LATE_EVENING_UTC)
    capture, rest = account.capture(hold, 4_000, LATE_EVENING_UTC)
    assert [(m.kind, m.value_date) for m in (capture, rest)] == [
        (MovementKind.CAPTURE, PARIS_DAY),
        (MovementKind.RELEASE, PARIS_DAY),
    ]
    assert _references(capture) == _references(rest) == (None, hold.hold_id, _dossier(hold), None)


def test_a_release_names_the_hold_and_dossier_R_FUN_5() -> None:
    account = Account(uuid4(), balance_cents=40_000)
    hold = _hold(account)
    account.place_hold(hold, LATE_EVENING_UTC)
    movement = account.release(hold, LATE_EVENING_UTC)
    assert (movement.kind, movement.value_date) == (MovementKind.RELEASE, PARIS_DAY)
    assert _references(movement) == (None, hold.hold_id, _dossier(hold), None)


def test_a_hold_without_terms_names_no_dossier_R_FUN_1() -> None:
    account = Account(uuid4(), balance_cents=40_000)
    hold = Hold(uuid4(), account.elu_id, 1_000, None)
    movement = account.place_hold(hold, LATE_EVENING_UTC)
    assert _references(movement) == (None, hold.hold_id, None, None)


def test_an_expiry_takes_effect_on_the_runs_as_of_R_END_1() -> None:
    account = Account(uuid4(), balance_cents=40_000)
    movement = account.expire(LATE_EVENING_UTC, "expiry run 2026-08-15", as_of=date(2026, 8, 15))
    assert movement is not None
    assert (movement.kind, movement.value_date, movement.reference) == (
        MovementKind.EXPIRY,
        date(2026, 8, 15),
        "expiry run 2026-08-15",
    )
    assert _references(movement) == (None, None, None, None)


def test_an_expiry_as_of_the_paris_day_is_accepted_and_the_day_after_moves_nothing_R_END_1() -> None:
    account = Account(uuid4(), balance_cents=40_000)
    with pytest.raises(AssertionError, match="ledger invariant broken: value date 2026-09-03"):
        account.expire(LATE_EVENING_UTC, "expiry run", as_of=date(2026, 9, 3))
    assert (account.balance_cents, account.journal) == (40_000, [])
    movement = account.expire(LATE_EVENING_UTC, "expiry run", as_of=PARIS_DAY)
    assert movement is not None and movement.value_date == PARIS_DAY


def test_an_adjustment_names_its_own_adjustment_published_with_it_R_ACC_2() -> None:
    account = Account(uuid4(), balance_cents=30_000)
    first = account.adjust_by_agent(-1_000, 80_000, LATE_EVENING_UTC, "duplicate credit", by="agent-7")
    second = account.adjust_by_agent(500, 80_000, LATE_EVENING_UTC, "partial undo", by="agent-7")
    assert first.adjustment_id is not None and second.adjustment_id is not None
    assert first.adjustment_id != second.adjustment_id
    assert first.adjustment_id not in (first.id, second.id)
    assert (first.kind, first.value_date, first.reference) == (
        MovementKind.ADJUSTMENT,
        PARIS_DAY,
        "duplicate credit",
    )
    assert _references(first) == (None, None, None, first.adjustment_id)
    assert [(e.adjustment_id, e.value_date) for e in account.events if isinstance(e, AccountAdjusted)] == [
        (first.adjustment_id, PARIS_DAY),
        (second.adjustment_id, PARIS_DAY),
    ]
