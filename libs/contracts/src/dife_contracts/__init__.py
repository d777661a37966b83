"""DIFE event contracts: the envelope, the topics, every event payload, shared enums and money types.

Every service imports its events from here and nowhere else, so producer and consumer share one definition.
"""

from dife_contracts import topics
from dife_contracts.envelope import Envelope
from dife_contracts.errors import ContractError, InvalidEnvelope, UnknownEventType
from dife_contracts.event import Event, PayloadPart
from dife_contracts.registry import EVENT_TYPES, event_type

__all__ = [
    "EVENT_TYPES",
    "ContractError",
    "Envelope",
    "Event",
    "InvalidEnvelope",
    "PayloadPart",
    "UnknownEventType",
    "event_type",
    "topics",
]
