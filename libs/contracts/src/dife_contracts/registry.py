"""The registry of event types: how a consumer turns a `ce_type` header back into a payload model."""

from collections.abc import Iterable
from typing import Final

from dife_contracts.errors import UnknownEventType
from dife_contracts.event import Event
from dife_contracts.events import ALL_EVENTS


def _index(events: Iterable[type[Event]]) -> dict[str, type[Event]]:
    """ce_type → model; two models claiming one ce_type would make decoding ambiguous: fail at import."""
    index: dict[str, type[Event]] = {}
    for model in events:
        if model.ce_type in index:
            claimant = index[model.ce_type].__name__
            raise ValueError(f"{model.ce_type} is claimed by both {claimant} and {model.__name__}")
        index[model.ce_type] = model
    return index


EVENT_TYPES: Final[dict[str, type[Event]]] = _index(ALL_EVENTS)
"""Every registered event type, keyed by ce_type, in catalogue order."""


def event_type(ce_type: str) -> type[Event]:
    """The payload model of `ce_type`; raises `UnknownEventType` for a type this package does not know."""
    try:
        return EVENT_TYPES[ce_type]
    except KeyError:
        raise UnknownEventType(ce_type) from None
