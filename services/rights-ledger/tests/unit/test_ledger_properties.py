"""Invariants of the ledger over random operation sequences (R-ACC-2, R-FUN-1, R-FUN-5, R-PAY-2).

The model predicts, before each operation, whether the account must accept or refuse it and what it must
move; the test fails when the account refuses what it should accept (no ``except: pass``). Hypothesis runs
derandomised: every run tries the same examples.
"""

import asyncio
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

import pytest
from dife_contracts.enums import MandateFamily, TrainingPurpose
from dife_contracts.events import DifeCaptureRequested, DifeHoldRequested, DifeReleaseRequested
from hypothesis import given, settings
from hypothesis import strategies as st
from rights_ledger.domain.ledger import Account, Hold, HoldStatus, MovementKind
from rights_ledger.domain.mandates import AccountStatus, Mandate
from rights_ledger.domain.parameters import CampaignFamily, CampaignRef, parameters_at
from rights_ledger.use_cases.holds import capture_hold, place_hold, release_hold
from servicekit.clock import MovableClock
from servicekit.rules import InvalidTransition, RuleBroken, RuleError
from servicekit.testing.fakes import FakeOutbox

from .fakes import MemoryAccounts

CAMPAIGN_2026 = CampaignRef(2026, CampaignFamily.MUNICIPAL)

NOW = datetime(2026, 4, 1, tzinfo=UTC)
PARAMS = parameters_at(date(2026, 3, 30))


@dataclass
class Model:
    account: Account = field(default_factory=lambda: Account(uuid4(), cap_cents=PARAMS.cap_cents))
    holds: dict[int, Hold] = field(default_factory=dict)

    def apply(self, op: tuple[str, int, int, int]) -> None:
        kind, slot, amount, choice = op
        account = self.account
        if kind == "credit":
            expected = max(0, min(PARAMS.yearly_credit_cents, PARAMS.cap_cents - account.balance_cents))
            movement = account.credit(PARAMS, NOW, "campaign", campaign=CAMPAIGN_2026, on=date(2026, 3, 30))
            assert (movement.amount_cents if movement else 0) == expected
            assert account.balance_cents <= PARAMS.cap_cents
        elif kind == "hold" and slot not in self.holds:
            hold = Hold(uuid4(), account.elu_id, amount, None)
            self._expect(amount > account.available_cents, "R-FUN-1", lambda: account.place_hold(hold, NOW))
            if hold.amount_cents <= account.held_cents and any(
                m.hold_id == hold.hold_id for m in account.journal
            ):
                self.holds[slot] = hold
        elif kind in ("capture", "release") and slot in self.holds:
            self._resolve(kind, self.holds[slot], choice, amount)
        elif kind == "adjust":
            self._adjust(amount - 40_000)
        elif kind == "expire":
            expected = account.available_cents
            movement = account.expire(NOW, "expiry run", as_of=NOW.date())
            assert (movement.amount_cents if movement else 0) == expected
            assert account.available_cents == 0

    def _resolve(self, kind: str, hold: Hold, choice: int, amount: int) -> None:
        account = self.account
        if hold.status is not HoldStatus.PENDING:
            with pytest.raises(InvalidTransition):
                account.capture(hold, 0, NOW) if kind == "capture" else account.release(hold, NOW)
            return
        held_before, balance_before = account.held_cents, account.balance_cents
        if kind == "release":
            account.release(hold, NOW)
            assert (account.held_cents, account.balance_cents) == (
                held_before - hold.amount_cents,
                balance_before,
            )
            return
        captured = (0, hold.amount_cents, amount % (hold.amount_cents + 1))[choice % 3]
        account.capture(hold, captured, NOW)
        assert (account.held_cents, account.balance_cents) == (
            held_before - hold.amount_cents,
            balance_before - captured,
        )
        assert (hold.status, hold.captured_cents) == (HoldStatus.POSTED, captured)

    def _adjust(self, delta: int) -> None:
        account = self.account
        after = account.balance_cents + delta
        refused = delta == 0 or after < account.held_cents or (delta > 0 and after > PARAMS.cap_cents)
        self._expect(refused, "R-ACC-2", lambda: account.adjust(delta, PARAMS.cap_cents, NOW, "agent"))

    def _expect(self, refused: bool, rule_id: str, operation: object) -> None:
        journal_length = len(self.account.journal)
        if refused:
            with pytest.raises(RuleBroken) as broken:
                operation()  # type: ignore[operator]
            assert broken.value.rule_id == rule_id
            assert len(self.account.journal) == journal_length
        else:
            operation()  # type: ignore[operator]
            assert len(self.account.journal) == journal_length + 1


ops = st.lists(
    st.tuples(
        st.sampled_from(["credit", "hold", "capture", "release", "adjust", "expire"]),
        st.integers(0, 6),
        st.integers(1, 80_000),
        st.integers(0, 2),
    ),
    max_size=60,
)


def _check(model: Model) -> None:
    account = model.account
    journal = account.journal
    assert account.balance_cents == sum(m.balance_delta_cents for m in journal)
    assert account.held_cents == sum(m.held_delta_cents for m in journal)
    assert account.available_cents >= 0
    assert account.held_cents == sum(
        h.amount_cents for h in model.holds.values() if h.status is HoldStatus.PENDING
    )
    running = 0
    for movement in journal:
        running += movement.balance_delta_cents
        assert movement.balance_after_cents == running
        assert movement.amount_cents > 0
    for hold in model.holds.values():
        resolved = [m for m in journal if m.hold_id == hold.hold_id and m.kind is not MovementKind.HOLD]
        assert sum(m.amount_cents for m in resolved) == (
            0 if hold.status is HoldStatus.PENDING else hold.amount_cents
        )


@settings(max_examples=300, deadline=None, derandomize=True)
@given(ops)
def test_balance_is_the_sum_of_the_journal_and_available_never_negative_R_FUN_1(sequence: list) -> None:
    model = Model()
    for op in sequence:
        model.apply(op)
    _check(model)


# R-FUN-5 through the use cases: an event delivered twice (at-least-once delivery) changes nothing more than
# delivered once. The use cases themselves must hold this, without any de-duplication in the test.

CLOCK = MovableClock(datetime(2026, 9, 1, 10, tzinfo=UTC))
DOSSIERS = [UUID(int=n + 1) for n in range(4)]


def _ledger() -> tuple[MemoryAccounts, UUID]:
    account = Account(uuid4(), status=AccountStatus.ACTIVE, balance_cents=80_000)
    accounts = MemoryAccounts(accounts={account.elu_id: account})
    accounts.mandates[account.elu_id] = [Mandate(MandateFamily.MUNICIPAL, date(2020, 6, 28))]
    return accounts, account.elu_id


def _event(elu_id: UUID, op: tuple[str, int, int]) -> object:
    kind, dossier, amount = op
    dossier_id = DOSSIERS[dossier]
    if kind == "hold":
        return DifeHoldRequested(
            dossier_id=dossier_id,
            elu_id=elu_id,
            amount_cents=amount,
            purpose=TrainingPurpose.MANDATE,
            training_start=date(2026, 10, 1),
            training_end=date(2026, 10, 2),
        )
    if kind == "capture":
        return DifeCaptureRequested(dossier_id=dossier_id, elu_id=elu_id, amount_cents=amount // 2)
    return DifeReleaseRequested(dossier_id=dossier_id, elu_id=elu_id, reason="refused")


async def _deliver(accounts: MemoryAccounts, event: object) -> str | None:
    """Run the use case an event triggers; the rule it breaks, if any (a consumer dead-letters it)."""
    try:
        if isinstance(event, DifeHoldRequested):
            await place_hold(accounts, FakeOutbox(), CLOCK, event)
        elif isinstance(event, DifeCaptureRequested):
            await capture_hold(accounts, CLOCK, event)
        elif isinstance(event, DifeReleaseRequested):
            await release_hold(accounts, CLOCK, event)
    except RuleError as error:
        return type(error).__name__ + str(getattr(error, "rule_id", ""))
    return None


def _state(accounts: MemoryAccounts, elu_id: UUID) -> tuple[int, int, list[tuple[int, int, str]]]:
    account = accounts.accounts[elu_id]
    holds = sorted(
        (DOSSIERS.index(h.terms.dossier_id), h.amount_cents, h.status.value)
        for h in accounts.holds.values()
        if h.terms
    )
    return account.balance_cents, account.held_cents, holds


def _answers(events: list) -> set[tuple[str, str]]:
    """What the ledger answered, the random hold ids aside."""
    return {(type(e).__name__, repr(sorted(e.model_dump(exclude={"hold_id"}).items()))) for e in events}


event_ops = st.lists(
    st.tuples(st.sampled_from(["hold", "capture", "release"]), st.integers(0, 3), st.integers(1, 60_000)),
    max_size=30,
)


@settings(max_examples=150, deadline=None, derandomize=True)
@given(event_ops)
def test_an_event_delivered_twice_changes_nothing_more_than_once_R_FUN_5(sequence: list) -> None:
    async def scenario() -> None:
        once, elu_id = _ledger()
        twice = MemoryAccounts(accounts=dict(once.accounts), mandates=dict(once.mandates))
        for op in sequence:
            event = _event(elu_id, op)
            first = await _deliver(once, event)
            assert await _deliver(twice, event) == first
            redelivered = await _deliver(twice, event)
            assert redelivered in (None, first)
            assert _state(twice, elu_id) == _state(once, elu_id)
        assert _answers(twice.events) == _answers(once.events)
        account = once.accounts[elu_id]
        pending = sum(h.amount_cents for h in once.holds.values() if h.status is HoldStatus.PENDING)
        assert account.held_cents == pending

    asyncio.run(scenario())


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.lists(st.integers(0, 200_000), max_size=10))
def test_balance_never_exceeds_the_cap_after_a_credit_R_ACC_2(starts: list[int]) -> None:
    for start in starts:
        account = Account(uuid4(), balance_cents=min(start, PARAMS.cap_cents))
        for _ in range(4):
            account.credit(PARAMS, NOW, "campaign", campaign=CAMPAIGN_2026, on=date(2026, 3, 30))
            assert account.balance_cents <= PARAMS.cap_cents
