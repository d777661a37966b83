"""The local read model of each élu's DIFE available balance (balance minus holds), fed by ledger events.

The ledger keys its events by elu_id, so one élu's events arrive in order; snapshots (`available_after_cents`
of a hold, `available_cents` of a rejection) reset the figure, movements shift it. The inbox makes each event
count once. The figure may lag: the ledger stays the judge, and a stale read ends in `hold_rejected` with the
true amount (R-FUN-1).
"""

from __future__ import annotations

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

BALANCE_EVENTS = (
    RightsCredited,
    RightsExpired,
    HoldPlaced,
    HoldRejected,
    HoldCaptured,
    HoldReleased,
    AccountAdjusted,
)


def next_available(current_cents: int, event: Event) -> int:
    """The élu's available DIFE after `event`, never below zero."""
    match event:
        case HoldPlaced():
            value = event.available_after_cents
        case HoldRejected():
            value = event.available_cents
        case RightsCredited():
            value = current_cents + event.amount_cents
        case AccountAdjusted():
            value = current_cents + event.amount_cents
        case RightsExpired():
            value = current_cents - event.amount_cents
        case HoldReleased():
            value = current_cents + event.released_cents
        case HoldCaptured():
            value = current_cents + event.released_cents
        case _:
            value = current_cents
    return max(value, 0)
