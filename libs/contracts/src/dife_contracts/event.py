"""Base classes of every event payload."""

from typing import ClassVar

from pydantic import BaseModel, ConfigDict


class PayloadPart(BaseModel):
    """A value nested in a payload (a mandate, a plan line, a session).

    Frozen, and a tolerant reader: a field it does not know (from a newer producer) is ignored, not an error.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")


class Event(PayloadPart):
    """Payload of one event type and version; the envelope carries it as the JSON value of a Kafka record.

    Each concrete class names its CloudEvents type, its logical topic and the field holding the aggregate id,
    which becomes both `ce_subject` and the Kafka key, so the events of one aggregate stay in order.
    """

    model_config = ConfigDict(frozen=True, extra="ignore")

    ce_type: ClassVar[str]
    topic: ClassVar[str]
    key_field: ClassVar[str]

    def aggregate_id(self) -> str:
        """The id of the aggregate this event is about, as a string: the Kafka key and `ce_subject`."""
        return str(getattr(self, self.key_field))

    def to_json(self) -> bytes:
        """The payload as it travels: compact UTF-8 JSON."""
        return self.model_dump_json().encode()
