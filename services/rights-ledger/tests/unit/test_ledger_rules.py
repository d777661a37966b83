"""R-FUN-1, R-FUN-5, R-PAY-2, R-ACC-2: holds, captures, releases, adjustments on the account."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from rights_ledger.domain.ledger import Account, Hold, HoldStatus, MovementKind
from servicekit.rules import InvalidTransition, RuleBroken

NOW = datetime(2026, 4, 1, tzinfo=UTC)


def _account(balance: int = 80_000) -> Account:
    return Account(uuid4(), balance_cents=balance)


def test_hold_reserves_without_changing_the_balance_R_FUN_1() -> None:
    account = _account()
    hold = Hold(uuid4(), account.elu_id, 30_000, "dossier-1")
    movement = account.place_hold(hold, NOW)
    assert movement.kind is MovementKind.HOLD
    assert (account.balance_cents, account.held_cents, account.available_cents) == (80_000, 30_000, 50_000)


def test_hold_beyond_the_available_balance_is_refused_R_FUN_1() -> None:
    account = _account(20_000)
    with pytest.raises(RuleBroken) as refused:
        account.place_hold(Hold(uuid4(), account.elu_id, 20_001, None), NOW)
    assert refused.value.rule_id == "R-FUN-1"
    assert account.journal == []


def test_partial_capture_releases_the_rest_R_PAY_2() -> None:
    account = _account()
    hold = Hold(uuid4(), account.elu_id, 30_000, "dossier-1")
    account.place_hold(hold, NOW)
    capture, release = account.capture(hold, 21_000, NOW)
    assert (capture.kind, capture.amount_cents, release.kind, release.amount_cents) == (
        "capture",
        21_000,
        "release",
        9_000,
    )
    assert (account.balance_cents, account.held_cents) == (59_000, 0)
    assert hold.status is HoldStatus.POSTED


def test_a_hold_resolves_at_most_once_R_FUN_5() -> None:
    account = _account()
    hold = Hold(uuid4(), account.elu_id, 30_000, None)
    account.place_hold(hold, NOW)
    account.release(hold, NOW)
    assert hold.status is HoldStatus.VOIDED
    with pytest.raises(InvalidTransition):
        account.capture(hold, 10_000, NOW)
    with pytest.raises(InvalidTransition):
        account.release(hold, NOW)
    assert account.balance_cents == 80_000


def test_capture_larger_than_the_hold_is_refused_R_PAY_2() -> None:
    account = _account()
    hold = Hold(uuid4(), account.elu_id, 30_000, None)
    account.place_hold(hold, NOW)
    with pytest.raises(RuleBroken) as refused:
        account.capture(hold, 30_001, NOW)
    assert refused.value.rule_id == "R-PAY-2"
    assert (account.held_cents, hold.status) == (30_000, HoldStatus.PENDING)


def test_adjustment_never_below_zero_or_above_cap_R_ACC_2() -> None:
    account = _account(70_000)
    with pytest.raises(RuleBroken) as above:
        account.adjust(10_001, 80_000, NOW, "too much")
    with pytest.raises(RuleBroken) as below:
        account.adjust(-70_001, 80_000, NOW, "too little")
    assert (above.value.rule_id, below.value.rule_id) == ("R-ACC-2", "R-ACC-2")
    assert "above the cap" in above.value.message and "below 0" in below.value.message
    assert account.journal == []
    movement = account.adjust(-5_000, 80_000, NOW, "correction")
    assert (movement.amount_cents, movement.balance_delta_cents, movement.balance_after_cents) == (
        5_000,
        -5_000,
        65_000,
    )


def test_adjustment_cannot_take_back_held_rights_R_FUN_5() -> None:
    account = _account(30_000)
    account.place_hold(Hold(uuid4(), account.elu_id, 20_000, None), NOW)
    with pytest.raises(RuleBroken) as refused:
        account.adjust(-10_001, 80_000, NOW, "would break the hold")
    assert refused.value.rule_id == "R-ACC-2"
    assert (account.balance_cents, account.held_cents) == (30_000, 20_000)
