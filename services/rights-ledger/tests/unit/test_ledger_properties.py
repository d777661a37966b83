"""Invariants of the ledger over random operation sequences (R-ACC-2, R-FUN-1, R-FUN-5, R-PAY-2).

The in-memory model below plays what the consumers do with inbox deduplication: each operation carries an
event id; a replayed id is a no-op.
"""

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from uuid import UUID, uuid4

from hypothesis import given, settings
from hypothesis import strategies as st
from rights_ledger.domain.ledger import Account, Hold, HoldStatus, MovementKind
from rights_ledger.domain.parameters import parameters_at
from servicekit.rules import RuleError

NOW = datetime(2026, 4, 1, tzinfo=UTC)
PARAMS = parameters_at(date(2026, 3, 30))


@dataclass
class Model:
    account: Account = field(default_factory=lambda: Account(uuid4(), cap_cents=PARAMS.cap_cents))
    holds: dict[int, Hold] = field(default_factory=dict)
    seen_events: set[int] = field(default_factory=set)
    credited_years: set[int] = field(default_factory=set)
    resolutions: dict[UUID, int] = field(default_factory=dict)

    def apply(self, op: tuple[str, int, int, int]) -> None:
        kind, event_id, slot, amount = op
        if event_id in self.seen_events:
            return
        self.seen_events.add(event_id)
        account = self.account
        try:
            if kind == "credit":
                year = 2024 + slot % 4
                if year not in self.credited_years:
                    self.credited_years.add(year)
                    account.credit(PARAMS, NOW, f"campaign {year}")
                    assert account.balance_cents <= PARAMS.cap_cents
            elif kind == "hold":
                if slot not in self.holds:
                    hold = Hold(uuid4(), account.elu_id, amount, None)
                    account.place_hold(hold, NOW)
                    self.holds[slot] = hold
            elif kind in ("capture", "release") and slot in self.holds:
                hold = self.holds[slot]
                if kind == "capture":
                    account.capture(hold, min(amount, hold.amount_cents), NOW)
                else:
                    account.release(hold, NOW)
                self.resolutions[hold.hold_id] = self.resolutions.get(hold.hold_id, 0) + 1
            elif kind == "adjust":
                account.adjust(amount - 40_000, PARAMS.cap_cents, NOW, "agent")
            elif kind == "expire":
                account.expire(NOW, "expiry run")
        except RuleError:
            pass


ops = st.lists(
    st.tuples(
        st.sampled_from(["credit", "hold", "capture", "release", "adjust", "expire"]),
        st.integers(0, 40),
        st.integers(0, 6),
        st.integers(1, 80_000),
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
    assert all(count == 1 for count in model.resolutions.values())
    for hold in model.holds.values():
        resolved = [m for m in journal if m.hold_id == hold.hold_id and m.kind is not MovementKind.HOLD]
        assert sum(m.amount_cents for m in resolved) == (
            0 if hold.status is HoldStatus.PENDING else hold.amount_cents
        )


@settings(max_examples=300, deadline=None)
@given(ops)
def test_balance_is_the_sum_of_the_journal_and_available_never_negative_R_FUN_1(sequence: list) -> None:
    model = Model()
    for op in sequence:
        model.apply(op)
    _check(model)


@settings(max_examples=200, deadline=None)
@given(ops, st.randoms(use_true_random=False))
def test_replaying_every_event_changes_nothing_R_FUN_5(sequence: list, rnd: random.Random) -> None:
    model = Model()
    for op in sequence:
        model.apply(op)
    before = (model.account.balance_cents, model.account.held_cents, len(model.account.journal))
    replay = list(sequence)
    rnd.shuffle(replay)
    for op in replay:
        model.apply(op)
    assert (model.account.balance_cents, model.account.held_cents, len(model.account.journal)) == before
    _check(model)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 200_000), max_size=10))
def test_balance_never_exceeds_the_cap_after_a_credit_R_ACC_2(starts: list[int]) -> None:
    for start in starts:
        account = Account(uuid4(), balance_cents=min(start, PARAMS.cap_cents))
        for _ in range(4):
            account.credit(PARAMS, NOW, "campaign")
            assert account.balance_cents <= PARAMS.cap_cents
