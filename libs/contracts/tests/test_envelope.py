"""The CloudEvents envelope in Kafka binary mode: what goes on the wire and back."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from cloudevents.core.bindings import kafka as cloudevents_kafka
from cloudevents.core.formats.json import JSONFormat
from cloudevents.core.v1.event import CloudEvent
from dife_contracts import Envelope, Event, InvalidEnvelope, UnknownEventType
from dife_contracts.events import HoldPlaced
from dife_contracts.examples import EXAMPLES, example
from pydantic import ValidationError

SOURCE = "/dife/rights-ledger"
TRACEPARENT = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
EVENT_ID = "6f1c0a8e-8d1a-4c5e-bb1f-2f0a6c3d9e41"
AT = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)


def _record(envelope: Envelope) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    return envelope.kafka_key(), envelope.data, envelope.kafka_headers()


@pytest.mark.parametrize("event", list(EXAMPLES.values()), ids=lambda event: event.ce_type)
def test_every_event_type_survives_the_round_trip_through_kafka(event: Event) -> None:
    envelope = Envelope.wrap(event, source=SOURCE, traceparent=TRACEPARENT)

    received = Envelope.from_kafka(*_record(envelope))

    assert received == envelope
    assert received.parse() == event
    assert type(received.parse()) is type(event)


def test_wrap_takes_type_subject_and_payload_from_the_event() -> None:
    event = example(HoldPlaced)

    envelope = Envelope.wrap(event, source=SOURCE, id=EVENT_ID, time=AT)

    assert envelope.id == EVENT_ID
    assert envelope.type == "dife.ledger.hold_placed.v1"
    assert envelope.source == SOURCE
    assert envelope.subject == str(event.elu_id)
    assert envelope.time == AT
    assert json.loads(envelope.data) == event.model_dump(mode="json")
    assert (envelope.specversion, envelope.datacontenttype, envelope.traceparent) == (
        "1.0",
        "application/json",
        None,
    )


def test_wrap_gives_each_event_a_new_id_and_the_current_time() -> None:
    before = datetime.now(UTC)
    first, second = (Envelope.wrap(example(HoldPlaced), source=SOURCE) for _ in range(2))

    assert first.id != second.id
    assert before <= first.time <= datetime.now(UTC)


def test_the_kafka_key_is_the_aggregate_id_so_one_aggregate_stays_in_order() -> None:
    event = example(HoldPlaced)

    assert Envelope.wrap(event, source=SOURCE).kafka_key() == str(event.elu_id).encode()


def test_kafka_headers_carry_the_cloudevents_attributes_in_binary_mode() -> None:
    event = example(HoldPlaced)
    envelope = Envelope.wrap(event, source=SOURCE, id=EVENT_ID, time=AT, traceparent=TRACEPARENT)

    assert envelope.kafka_headers() == [
        ("ce_id", EVENT_ID.encode()),
        ("ce_type", b"dife.ledger.hold_placed.v1"),
        ("ce_source", SOURCE.encode()),
        ("ce_specversion", b"1.0"),
        ("ce_time", b"2026-03-30T06:00:00Z"),
        ("ce_subject", str(event.elu_id).encode()),
        ("content-type", b"application/json"),
        ("traceparent", TRACEPARENT.encode()),
    ]


def test_without_a_trace_there_is_no_traceparent_header() -> None:
    headers = dict(Envelope.wrap(example(HoldPlaced), source=SOURCE).kafka_headers())

    assert "traceparent" not in headers


def test_time_is_kept_in_utc_whatever_offset_it_was_given_in() -> None:
    paris = timezone(timedelta(hours=2))
    envelope = Envelope.wrap(
        example(HoldPlaced), source=SOURCE, time=datetime(2026, 3, 30, 8, 0, tzinfo=paris)
    )

    assert envelope.time == AT
    assert envelope.time.tzinfo is UTC
    assert dict(envelope.kafka_headers())["ce_time"] == b"2026-03-30T06:00:00Z"


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(InvalidEnvelope, match="timezone-aware"):
        Envelope.wrap(example(HoldPlaced), source=SOURCE, time=datetime(2026, 3, 30, 6, 0))


@pytest.mark.parametrize(
    "header", ["ce_id", "ce_type", "ce_source", "ce_specversion", "ce_time", "ce_subject"]
)
def test_a_record_missing_a_required_header_is_an_invalid_envelope(header: str) -> None:
    key, value, headers = _record(Envelope.wrap(example(HoldPlaced), source=SOURCE))

    with pytest.raises(InvalidEnvelope, match=header):
        Envelope.from_kafka(key, value, [(name, raw) for name, raw in headers if name != header])


def test_a_record_without_content_type_is_read_as_json() -> None:
    key, value, headers = _record(Envelope.wrap(example(HoldPlaced), source=SOURCE))

    envelope = Envelope.from_kafka(
        key, value, [(name, raw) for name, raw in headers if name != "content-type"]
    )

    assert envelope.datacontenttype == "application/json"
    assert envelope.parse() == example(HoldPlaced)


@pytest.mark.parametrize(
    ("header", "raw", "message"),
    [
        ("ce_specversion", b"0.3", "specversion"),
        ("content-type", b"application/avro", "content-type"),
        ("ce_time", b"yesterday", "RFC 3339"),
        ("ce_time", b"2026-03-30T06:00:00", "offset"),
        ("ce_id", b"\xff\xfe", "UTF-8"),
    ],
)
def test_a_record_with_a_bad_header_is_an_invalid_envelope(header: str, raw: bytes, message: str) -> None:
    key, value, headers = _record(Envelope.wrap(example(HoldPlaced), source=SOURCE))
    altered = [(name, raw if name == header else original) for name, original in headers]

    with pytest.raises(InvalidEnvelope, match=message):
        Envelope.from_kafka(key, value, altered)


def test_a_tombstone_carries_no_event() -> None:
    key, _, headers = _record(Envelope.wrap(example(HoldPlaced), source=SOURCE))

    with pytest.raises(InvalidEnvelope, match="without a value"):
        Envelope.from_kafka(key, None, headers)


def test_a_key_that_disagrees_with_the_subject_is_refused() -> None:
    _, value, headers = _record(Envelope.wrap(example(HoldPlaced), source=SOURCE))

    with pytest.raises(InvalidEnvelope, match="ce_subject"):
        Envelope.from_kafka(b"another-aggregate", value, headers)


def test_header_names_are_read_case_insensitively() -> None:
    key, value, headers = _record(Envelope.wrap(example(HoldPlaced), source=SOURCE))

    envelope = Envelope.from_kafka(key, value, [(name.upper(), raw) for name, raw in headers])

    assert envelope.parse() == example(HoldPlaced)


def test_parsing_an_unknown_type_raises_unknown_event_type() -> None:
    envelope = Envelope.wrap(example(HoldPlaced), source=SOURCE)
    unknown = Envelope.from_kafka(
        envelope.kafka_key(),
        envelope.data,
        [
            (name, b"dife.ledger.hold_placed.v9" if name == "ce_type" else raw)
            for name, raw in envelope.kafka_headers()
        ],
    )

    with pytest.raises(UnknownEventType, match=r"hold_placed\.v9"):
        unknown.parse()


def test_parsing_a_payload_that_breaks_its_schema_raises_a_validation_error() -> None:
    envelope = Envelope.wrap(example(HoldPlaced), source=SOURCE)
    payload = json.loads(envelope.data) | {"amount_cents": -1}

    with pytest.raises(ValidationError, match="amount_cents"):
        Envelope.from_kafka(
            envelope.kafka_key(), json.dumps(payload).encode(), envelope.kafka_headers()
        ).parse()


def test_the_cloudevents_sdk_reads_our_records() -> None:
    event = example(HoldPlaced)
    envelope = Envelope.wrap(event, source=SOURCE, id=EVENT_ID, time=AT, traceparent=TRACEPARENT)
    message = cloudevents_kafka.KafkaMessage(
        headers=dict(envelope.kafka_headers()), key=envelope.kafka_key(), value=envelope.data
    )

    cloud_event = cloudevents_kafka.from_binary(message, JSONFormat(), CloudEvent)

    assert cloud_event.get_id() == EVENT_ID
    assert cloud_event.get_type() == event.ce_type
    assert cloud_event.get_source() == SOURCE
    assert cloud_event.get_subject() == event.aggregate_id()
    assert cloud_event.get_time() == AT
    assert cloud_event.get_datacontenttype() == "application/json"
    assert cloud_event.get_data() == event.model_dump(mode="json")


def test_we_read_records_written_by_the_cloudevents_sdk() -> None:
    event = example(HoldPlaced)
    cloud_event = CloudEvent(
        {
            "id": EVENT_ID,
            "type": event.ce_type,
            "source": SOURCE,
            "specversion": "1.0",
            "time": AT,
            "subject": event.aggregate_id(),
            "datacontenttype": "application/json",
        },
        event.model_dump(mode="json"),
    )
    message = cloudevents_kafka.to_binary(
        cloud_event, JSONFormat(), key_mapper=lambda _: event.aggregate_id()
    )
    key = message.key.encode() if isinstance(message.key, str) else message.key

    envelope = Envelope.from_kafka(key, message.value, list(message.headers.items()))

    assert (envelope.id, envelope.type, envelope.subject, envelope.time) == (
        EVENT_ID,
        event.ce_type,
        event.aggregate_id(),
        AT,
    )
    assert envelope.parse() == event
