"""The hold use cases on in-memory repositories: what they answer funding (R-FUN-1, R-FUN-5, R-END-1)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from dife_contracts.enums import HoldRejectionReason, MandateFamily, TrainingPurpose
from dife_contracts.events import (
    DifeCaptureRequested,
    DifeHoldRequested,
    HoldCaptured,
    HoldPlaced,
    HoldRejected,
)
from rights_ledger.domain.ledger import Account
from rights_ledger.domain.mandates import AccountStatus, Mandate
from rights_ledger.use_cases.holds import capture_hold, place_hold, place_holds
from servicekit.clock import MovableClock
from servicekit.rules import Conflict, RuleBroken
from servicekit.testing.fakes import FakeOutbox

from .fakes import MemoryAccounts

CLOCK = MovableClock(datetime(2026, 9, 1, 10, tzinfo=UTC))


def _ledger(balance: int = 80_000) -> tuple[MemoryAccounts, Account]:
    account = Account(uuid4(), status=AccountStatus.ACTIVE, balance_cents=balance)
    accounts = MemoryAccounts(accounts={account.elu_id: account})
    accounts.mandates[account.elu_id] = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28))]
    return accounts, account


def _request(account: Account, amount: int) -> DifeHoldRequested:
    return DifeHoldRequested(
        dossier_id=uuid4(),
        elu_id=account.elu_id,
        amount_cents=amount,
        purpose=TrainingPurpose.MANDATE,
        training_start=date(2026, 10, 1),
        training_end=date(2026, 10, 2),
    )


async def test_a_second_request_for_the_dossier_answers_the_same_hold_once_placed_R_FUN_5() -> None:
    accounts, account = _ledger()
    request = _request(account, 30_000)
    await place_hold(accounts, FakeOutbox(), CLOCK, request)
    await place_hold(accounts, FakeOutbox(), CLOCK, request)
    first, second = accounts.events
    assert isinstance(first, HoldPlaced) and first == second
    assert (len(accounts.holds), accounts.accounts[account.elu_id].held_cents) == (1, 30_000)


async def test_a_hold_above_the_available_balance_is_answered_hold_rejected_R_FUN_1() -> None:
    accounts, account = _ledger(balance=20_000)
    await place_hold(accounts, FakeOutbox(), CLOCK, _request(account, 20_001))
    [rejected] = accounts.events
    assert isinstance(rejected, HoldRejected)
    assert (rejected.reason, rejected.available_cents) == (HoldRejectionReason.INSUFFICIENT_RIGHTS, 20_000)
    assert accounts.holds == {}


async def test_an_elu_without_account_is_answered_account_inactive_R_ACT_1() -> None:
    accounts, account = _ledger()
    outbox = FakeOutbox()
    request = _request(account, 1_000).model_copy(update={"elu_id": uuid4()})
    await place_hold(accounts, outbox, CLOCK, request)
    [rejected] = outbox.events
    assert isinstance(rejected, HoldRejected) and rejected.reason is HoldRejectionReason.ACCOUNT_INACTIVE


async def test_a_capture_above_the_hold_is_refused_and_one_within_it_releases_the_rest_R_PAY_2() -> None:
    accounts, account = _ledger()
    request = _request(account, 30_000)
    await place_hold(accounts, FakeOutbox(), CLOCK, request)
    too_much = DifeCaptureRequested(dossier_id=request.dossier_id, elu_id=account.elu_id, amount_cents=30_001)
    with pytest.raises(RuleBroken) as refused:
        await capture_hold(accounts, CLOCK, too_much)
    assert refused.value.rule_id == "R-PAY-2"
    await capture_hold(accounts, CLOCK, too_much.model_copy(update={"amount_cents": 21_000}))
    captured = accounts.events[-1]
    assert isinstance(captured, HoldCaptured)
    assert (captured.captured_cents, captured.released_cents) == (21_000, 9_000)
    assert (
        accounts.accounts[account.elu_id].balance_cents,
        accounts.accounts[account.elu_id].held_cents,
    ) == (
        59_000,
        0,
    )


async def test_a_run_decides_each_request_on_the_balance_the_earlier_ones_left_to_the_cent_R_FUN_1() -> None:
    accounts, account = _ledger(balance=30_000)
    first, rest, one_cent_more = _request(account, 20_000), _request(account, 10_000), _request(account, 1)
    await place_holds(accounts, FakeOutbox(), CLOCK, [first, rest, one_cent_more])
    placed_first, placed_rest, rejected = accounts.events
    assert isinstance(placed_first, HoldPlaced) and placed_first.available_after_cents == 10_000
    assert isinstance(placed_rest, HoldPlaced) and placed_rest.available_after_cents == 0
    assert isinstance(rejected, HoldRejected)
    assert (rejected.reason, rejected.available_cents) == (HoldRejectionReason.INSUFFICIENT_RIGHTS, 0)
    assert accounts.accounts[account.elu_id].held_cents == 30_000


async def test_a_dossier_asked_twice_in_one_run_holds_once_and_is_answered_twice_R_FUN_5() -> None:
    accounts, account = _ledger()
    request = _request(account, 30_000)
    await place_holds(accounts, FakeOutbox(), CLOCK, [request, request])
    first, second = accounts.events
    assert isinstance(first, HoldPlaced) and first == second
    assert (len(accounts.holds), accounts.accounts[account.elu_id].held_cents) == (1, 30_000)


async def test_a_run_answers_an_elu_without_account_and_still_places_the_others_R_ACT_1() -> None:
    accounts, account = _ledger()
    outbox = FakeOutbox()
    stranger = _request(account, 1_000).model_copy(update={"elu_id": uuid4()})
    await place_holds(accounts, outbox, CLOCK, [stranger, _request(account, 5_000)])
    [rejected] = outbox.events
    assert isinstance(rejected, HoldRejected) and rejected.reason is HoldRejectionReason.ACCOUNT_INACTIVE
    [placed] = accounts.events
    assert isinstance(placed, HoldPlaced) and placed.amount_cents == 5_000


async def test_a_run_with_a_dossier_held_for_another_elu_is_refused_whole_R_FUN_5() -> None:
    accounts, account = _ledger()
    other = Account(uuid4(), status=AccountStatus.ACTIVE, balance_cents=80_000)
    accounts.accounts[other.elu_id] = other
    accounts.mandates[other.elu_id] = accounts.mandates[account.elu_id]
    request = _request(account, 30_000)
    stolen = request.model_copy(update={"elu_id": other.elu_id})
    with pytest.raises(Conflict) as refused:
        await place_holds(accounts, FakeOutbox(), CLOCK, [request, stolen])
    assert refused.value.rule_id == "R-FUN-5"
    assert accounts.events == [] and accounts.holds == {}, "nothing of the run is saved"
