"""The DIFE account as a double-entry ledger with two-phase holds (R-ACC-1/2, R-END-1, R-FUN-5, R-PAY-2).

Every movement is a transfer between the élu's account and a system account (the fund for a credit, training
for a capture, expiry, adjustment). The élu's account keeps two sums, as TigerBeetle does:
``balance`` (posted rights) and ``held`` (pending holds); ``available = balance − held``. The journal is
append-only and each entry carries its deltas, so ``balance = Σ balance_delta`` and ``held = Σ held_delta``.

A hold is pending, then either posted (captured, maybe partially: the rest is released in the same step) or
voided (released). It resolves at most once.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID, uuid4

from rights_ledger.domain.mandates import AccountStatus
from rights_ledger.domain.parameters import RightsParameters, credit_amount


class MovementKind(enum.StrEnum):
    CREDIT = "credit"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"
    EXPIRY = "expiry"
    ADJUSTMENT = "adjustment"


class Counterparty(enum.StrEnum):
    """The system account on the other side of each transfer (double entry)."""

    FUND = "fund"
    TRAINING = "training"
    EXPIRED = "expired"
    ADJUSTMENT = "adjustment"
    PENDING = "pending"


COUNTERPARTY: dict[MovementKind, Counterparty] = {
    MovementKind.CREDIT: Counterparty.FUND,
    MovementKind.HOLD: Counterparty.PENDING,
    MovementKind.CAPTURE: Counterparty.TRAINING,
    MovementKind.RELEASE: Counterparty.PENDING,
    MovementKind.EXPIRY: Counterparty.EXPIRED,
    MovementKind.ADJUSTMENT: Counterparty.ADJUSTMENT,
}


class HoldStatus(enum.StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


class LedgerError(Exception):
    """A rule of the ledger refused an operation; ``rule`` is the DOMAIN.md id."""

    def __init__(self, rule: str, detail: str) -> None:
        super().__init__(detail)
        self.rule = rule
        self.detail = detail


class InsufficientRights(LedgerError):
    pass


class HoldAlreadyResolved(LedgerError):
    pass


@dataclass(frozen=True, slots=True)
class Movement:
    """One journal entry; ``amount_cents`` is its absolute size, the deltas its effect on the two sums."""

    id: UUID
    elu_id: UUID
    kind: MovementKind
    amount_cents: int
    balance_delta_cents: int
    held_delta_cents: int
    balance_after_cents: int
    held_after_cents: int
    at: datetime
    reference: str | None = None
    hold_id: UUID | None = None


@dataclass(slots=True)
class Hold:
    hold_id: UUID
    elu_id: UUID
    amount_cents: int
    reference: str | None
    status: HoldStatus = HoldStatus.PENDING
    captured_cents: int = 0


@dataclass(slots=True)
class Account:
    """One élu's account; operations append to ``journal`` the movements they make and return them."""

    elu_id: UUID
    status: AccountStatus = AccountStatus.INACTIVE
    balance_cents: int = 0
    held_cents: int = 0
    cap_cents: int = 80_000
    journal: list[Movement] = field(default_factory=list)

    @property
    def available_cents(self) -> int:
        return self.balance_cents - self.held_cents

    def _record(
        self,
        kind: MovementKind,
        amount_cents: int,
        balance_delta: int,
        held_delta: int,
        at: datetime,
        reference: str | None = None,
        hold_id: UUID | None = None,
    ) -> Movement:
        self.balance_cents += balance_delta
        self.held_cents += held_delta
        if self.balance_cents < 0 or self.held_cents < 0 or self.held_cents > self.balance_cents:
            raise AssertionError("ledger invariant broken: 0 ≤ held ≤ balance")
        movement = Movement(
            id=uuid4(),
            elu_id=self.elu_id,
            kind=kind,
            amount_cents=amount_cents,
            balance_delta_cents=balance_delta,
            held_delta_cents=held_delta,
            balance_after_cents=self.balance_cents,
            held_after_cents=self.held_cents,
            at=at,
            reference=reference,
            hold_id=hold_id,
        )
        self.journal.append(movement)
        return movement

    def credit(self, parameters: RightsParameters, at: datetime, reference: str) -> Movement | None:
        """R-ACC-1/R-ACC-2: credit ``min(yearly, cap − balance)``; None when the cap leaves nothing."""
        amount = credit_amount(self.balance_cents, parameters)
        if amount == 0:
            return None
        self.cap_cents = parameters.cap_cents
        return self._record(MovementKind.CREDIT, amount, amount, 0, at, reference)

    def place_hold(self, hold: Hold, at: datetime) -> Movement:
        """R-FUN-1/R-FUN-5: reserve ``hold.amount_cents`` out of the available balance, or refuse."""
        if hold.amount_cents <= 0:
            raise LedgerError("R-FUN-5", "a hold is for a positive amount")
        if hold.amount_cents > self.available_cents:
            raise InsufficientRights(
                "R-FUN-1",
                f"hold of {hold.amount_cents} cents exceeds the available {self.available_cents} cents",
            )
        return self._record(
            MovementKind.HOLD, hold.amount_cents, 0, hold.amount_cents, at, hold.reference, hold.hold_id
        )

    def capture(self, hold: Hold, amount_cents: int, at: datetime) -> list[Movement]:
        """R-PAY-2: post ``amount_cents`` of a pending hold and release the rest, in one resolution."""
        self._ensure_pending(hold)
        if not 0 <= amount_cents <= hold.amount_cents:
            raise LedgerError("R-PAY-2", f"capture of {amount_cents} cents outside 0..{hold.amount_cents}")
        movements: list[Movement] = []
        if amount_cents > 0:
            movements.append(
                self._record(
                    MovementKind.CAPTURE,
                    amount_cents,
                    -amount_cents,
                    -amount_cents,
                    at,
                    hold.reference,
                    hold.hold_id,
                )
            )
        rest = hold.amount_cents - amount_cents
        if rest > 0:
            movements.append(
                self._record(MovementKind.RELEASE, rest, 0, -rest, at, hold.reference, hold.hold_id)
            )
        hold.status = HoldStatus.POSTED
        hold.captured_cents = amount_cents
        return movements

    def release(self, hold: Hold, at: datetime) -> Movement:
        """R-DOS-5 / R-FUN-5: void a pending hold: everything reserved comes back."""
        self._ensure_pending(hold)
        movement = self._record(
            MovementKind.RELEASE, hold.amount_cents, 0, -hold.amount_cents, at, hold.reference, hold.hold_id
        )
        hold.status = HoldStatus.VOIDED
        return movement

    def expire(self, at: datetime, reference: str) -> Movement | None:
        """R-END-1: the available balance expires as an explicit movement (held rights stay held)."""
        amount = self.available_cents
        if amount <= 0:
            return None
        return self._record(MovementKind.EXPIRY, amount, -amount, 0, at, reference)

    def adjust(self, amount_cents: int, cap_cents: int, at: datetime, reason: str) -> Movement:
        """Audited correction by an agent: never below the held rights (so ≥ 0), never above the cap."""
        if amount_cents == 0:
            raise LedgerError("R-ACC-2", "an adjustment moves a non-zero amount")
        after = self.balance_cents + amount_cents
        if after < self.held_cents:
            raise LedgerError(
                "R-ACC-2",
                f"the adjustment would take the balance to {after} cents, below 0 or below the holds",
            )
        if amount_cents > 0 and after > cap_cents:
            raise LedgerError(
                "R-ACC-2", f"the adjustment would take the balance to {after} cents, above the cap"
            )
        if amount_cents > 0:
            self.cap_cents = cap_cents
        return self._record(MovementKind.ADJUSTMENT, abs(amount_cents), amount_cents, 0, at, reason)

    @staticmethod
    def _ensure_pending(hold: Hold) -> None:
        if hold.status is not HoldStatus.PENDING:
            raise HoldAlreadyResolved("R-FUN-5", f"hold {hold.hold_id} is already {hold.status}")
