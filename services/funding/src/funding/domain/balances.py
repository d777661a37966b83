"""The local read model of each élu's DIFE available balance (balance minus holds), fed by ledger events.

The ledger keys its events by elu_id, so one élu's events arrive in order; snapshots (`available_after_cents`
of a hold, `available_cents` of a rejection) reset the figure, movements shift it. The inbox makes each event
count once. The figure may lag: the ledger stays the judge, and a stale read ends in `hold_rejected` with the
true amount (R-FUN-1).
"""

from __future__ import annotations

from dataclasses import dataclass

from dife_contracts.event import Event
from dife_contracts.events import (
    AccountAdjusted,
    HoldCaptured,
    HoldPlaced,
    HoldRejected,
    HoldReleased,
    RightsCredited,
    RightsExpired,
)


@dataclass(frozen=True)
class BalanceChange:
    """What one ledger event does to the available figure: reset it (`snapshot`) or shift it."""

    snapshot: bool
    cents: int

    def applied_to(self, current_cents: int) -> int:
        """The available DIFE after the change, never below zero (the repository applies the same in SQL)."""
        return max(0, self.cents if self.snapshot else current_cents + self.cents)


def balance_change(event: Event) -> BalanceChange | None:
    """The change `event` makes to the élu's available DIFE, or None if it makes none."""
    match event:
        case HoldPlaced():
            return BalanceChange(snapshot=True, cents=event.available_after_cents)
        case HoldRejected():
            return BalanceChange(snapshot=True, cents=event.available_cents)
        case RightsCredited() | AccountAdjusted():
            return BalanceChange(snapshot=False, cents=event.amount_cents)
        case RightsExpired():
            return BalanceChange(snapshot=False, cents=-event.amount_cents)
        case HoldReleased() | HoldCaptured():
            return BalanceChange(snapshot=False, cents=event.released_cents)
    return None


def next_available(current_cents: int, event: Event) -> int:
    """The élu's available DIFE after `event`, never below zero."""
    change = balance_change(event)
    return current_cents if change is None else change.applied_to(current_cents)
