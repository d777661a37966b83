"""CloudEvents 1.0 envelope in the Kafka protocol binding, binary mode (DESIGN.md, Events).

The Kafka value is the JSON payload itself; the CloudEvents attributes travel as `ce_*` headers, and the key
is the aggregate id so that one aggregate's events stay in order on one partition.
"""

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from dife_contracts.errors import InvalidEnvelope
from dife_contracts.event import Event
from dife_contracts.registry import event_type

SPECVERSION = "1.0"
JSON = "application/json"
TRACEPARENT = "traceparent"
CONTENT_TYPE = "content-type"

_REQUIRED_HEADERS = ("ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "ce_subject")


def format_time(instant: datetime) -> str:
    """RFC 3339 in UTC with a `Z`, as CloudEvents wants for `time`."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True)
class Envelope:
    """One event as it travels on Kafka: CloudEvents attributes plus the payload's JSON bytes."""

    id: str
    type: str
    source: str
    subject: str
    time: datetime
    data: bytes
    specversion: str = SPECVERSION
    datacontenttype: str = JSON
    traceparent: str | None = None

    def __post_init__(self) -> None:
        if self.time.tzinfo is None or self.time.utcoffset() is None:
            raise InvalidEnvelope(f"event time must be timezone-aware, got {self.time!r}")
        object.__setattr__(self, "time", self.time.astimezone(UTC))

    @classmethod
    def wrap(
        cls,
        event: Event,
        *,
        source: str,
        id: str | None = None,
        time: datetime | None = None,
        traceparent: str | None = None,
    ) -> "Envelope":
        """Envelope an event published by `source` (e.g. `/dife/rights-ledger`); new id, now by default."""
        return cls(
            id=id if id is not None else str(uuid.uuid4()),
            type=event.ce_type,
            source=source,
            subject=event.aggregate_id(),
            time=time if time is not None else datetime.now(UTC),
            data=event.to_json(),
            traceparent=traceparent,
        )

    def kafka_key(self) -> bytes:
        """The record key: the aggregate id."""
        return self.subject.encode()

    def kafka_headers(self) -> list[tuple[str, bytes]]:
        """The CloudEvents attributes as Kafka headers, binary mode."""
        headers = [
            ("ce_id", self.id),
            ("ce_type", self.type),
            ("ce_source", self.source),
            ("ce_specversion", self.specversion),
            ("ce_time", format_time(self.time)),
            ("ce_subject", self.subject),
            (CONTENT_TYPE, self.datacontenttype),
        ]
        if self.traceparent is not None:
            headers.append((TRACEPARENT, self.traceparent))
        return [(name, value.encode()) for name, value in headers]

    @classmethod
    def from_kafka(
        cls, key: bytes | None, value: bytes | None, headers: Iterable[tuple[str, bytes | None]]
    ) -> "Envelope":
        """Read a record back; raises `InvalidEnvelope` if it is not a DIFE CloudEvent in binary mode.

        The key is not trusted for the subject: `ce_subject` is, and a record whose key disagrees is refused.
        """
        values = _decode_headers(headers)
        missing = [name for name in _REQUIRED_HEADERS if not values.get(name)]
        if missing:
            raise InvalidEnvelope(f"missing CloudEvents header(s): {', '.join(missing)}")
        if values["ce_specversion"] != SPECVERSION:
            raise InvalidEnvelope(f"unsupported CloudEvents specversion {values['ce_specversion']!r}")
        content_type = values.get(CONTENT_TYPE, JSON)
        if content_type.split(";")[0].strip() != JSON:
            raise InvalidEnvelope(f"unsupported content-type {content_type!r}")
        if value is None:
            raise InvalidEnvelope("a record without a value carries no event")
        if key is not None and key.decode(errors="replace") != values["ce_subject"]:
            raise InvalidEnvelope("the Kafka key differs from ce_subject")
        return cls(
            id=values["ce_id"],
            type=values["ce_type"],
            source=values["ce_source"],
            subject=values["ce_subject"],
            time=_parse_time(values["ce_time"]),
            data=bytes(value),
            specversion=SPECVERSION,
            datacontenttype=content_type,
            traceparent=values.get(TRACEPARENT),
        )

    def parse(self) -> Event:
        """The payload as its registered model: `UnknownEventType`, or pydantic's `ValidationError` if bad."""
        return event_type(self.type).model_validate_json(self.data)


def _decode_headers(headers: Iterable[tuple[str, bytes | None]]) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, raw in headers:
        if raw is None:
            continue
        try:
            values[name.lower()] = raw.decode()
        except UnicodeDecodeError as error:
            raise InvalidEnvelope(f"header {name} is not UTF-8") from error
    return values


def _parse_time(text: str) -> datetime:
    try:
        instant = datetime.fromisoformat(text)
    except ValueError as error:
        raise InvalidEnvelope(f"ce_time is not an RFC 3339 timestamp: {text!r}") from error
    if instant.tzinfo is None:
        raise InvalidEnvelope(f"ce_time has no offset: {text!r}")
    return instant
