"""The idempotent consumer on real Kafka and PostgreSQL (guarantees listed in OUTBOX.md)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiokafka import AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from dife_contracts import Envelope, topics
from dife_contracts.events import HoldPlaced
from servicekit.consumer import ConsumerSpec, EventConsumer, EventHandlers, EventMeta, TransientEventError
from servicekit.kafka import ensure_topics
from servicekit.testing import Infra, collect, eventually
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SOURCE = topics.source_of(topics.LEDGER)  # the one source a ledger event is trusted from


@dataclass
class Behaviour:
    """What the test handler does: record the effect, then maybe fail (so the effect must roll back)."""

    fail_transiently_for: set[uuid.UUID] = field(default_factory=set)
    fail_times: dict[uuid.UUID, int] = field(default_factory=dict)
    calls: int = 0


def handlers_for(behaviour: Behaviour) -> EventHandlers:
    handlers = EventHandlers()

    @handlers.on(HoldPlaced)
    async def record_hold(session: AsyncSession, event: HoldPlaced, meta: EventMeta) -> None:
        behaviour.calls += 1
        await session.execute(
            text("INSERT INTO effects (event_id, hold_id) VALUES (:e, :h)"),
            {"e": meta.event_id, "h": event.hold_id},
        )
        if event.hold_id in behaviour.fail_transiently_for:
            raise TransientEventError("the downstream dependency is down")
        if behaviour.fail_times.get(event.hold_id, 0) > 0:
            behaviour.fail_times[event.hold_id] -= 1
            raise RuntimeError("a bug that goes away on retry")

    return handlers


@asynccontextmanager
async def running_consumer(
    infra: Infra,
    topic: str,
    group: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    behaviour: Behaviour,
) -> AsyncIterator[EventConsumer]:
    consumer = EventConsumer(
        ConsumerSpec(name="test", topics=[topics.LEDGER], handlers=handlers_for(behaviour)),
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=group,
        physical_topics=[topic],
        sessionmaker=sessionmaker,
        producer=producer,
        service_name="servicekit-tests",
        topic_prefix=topic.removesuffix(topics.LEDGER),
        max_attempts=3,
        backoff_s=0.02,
        max_backoff_s=0.1,
    )
    task = asyncio.create_task(consumer.run())
    try:
        yield consumer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def send_envelope(
    producer: AIOKafkaProducer, topic: str, envelope: Envelope, value: bytes | None = None
) -> None:
    await producer.send_and_wait(
        topic,
        value=envelope.data if value is None else value,
        key=envelope.kafka_key(),
        headers=envelope.kafka_headers(),
    )


async def effects_of(sessionmaker: async_sessionmaker[AsyncSession], hold_id: uuid.UUID) -> int:
    async with sessionmaker() as session:
        return int(
            await session.scalar(
                select(func.count()).select_from(text("effects")).where(text("hold_id = :h")), {"h": hold_id}
            )
            or 0
        )


async def committed_offsets(infra: Infra, group: str) -> dict[TopicPartition, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
        return {tp: meta.offset for tp, meta in offsets.items() if meta.offset >= 0}
    finally:
        await admin.close()


async def test_the_same_event_delivered_twice_is_applied_once(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    behaviour = Behaviour()
    event = new_hold_placed()
    envelope = Envelope.wrap(event, source=SOURCE)
    marker = new_hold_placed(elu_id=event.elu_id)  # same key: handled after both copies
    await send_envelope(producer, ledger_topic, envelope)
    await send_envelope(producer, ledger_topic, envelope)
    await send_envelope(producer, ledger_topic, Envelope.wrap(marker, source=SOURCE))

    async with running_consumer(
        infra, ledger_topic, f"g-{uuid.uuid4().hex}", sessionmaker, producer, behaviour
    ):
        assert await eventually(lambda: _applied(sessionmaker, marker.hold_id))

    assert await effects_of(sessionmaker, event.hold_id) == 1
    assert behaviour.calls == 2, "the redelivered copy never reached the handler"


async def _applied(sessionmaker: async_sessionmaker[AsyncSession], hold_id: uuid.UUID) -> bool:
    return await effects_of(sessionmaker, hold_id) > 0


async def test_a_poison_event_goes_to_the_dead_letter_topic_with_its_error_and_the_partition_goes_on(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    good = new_hold_placed()
    poison = Envelope.wrap(new_hold_placed(elu_id=good.elu_id), source=SOURCE)
    await send_envelope(producer, ledger_topic, poison, value=b'{"elu_id": "not-a-uuid", "amount_cents": -5}')
    await send_envelope(producer, ledger_topic, Envelope.wrap(good, source=SOURCE))

    async with running_consumer(
        infra, ledger_topic, f"g-{uuid.uuid4().hex}", sessionmaker, producer, Behaviour()
    ) as c:
        assert await eventually(lambda: _applied(sessionmaker, good.hold_id)), "the partition went on"
        assert c.dead_lettered_total == 1

    parked = await collect(infra, topics.dead_letter(ledger_topic), count=1)
    assert [envelope.id for envelope in parked] == [poison.id]


async def test_a_dead_lettered_record_carries_the_error_in_its_headers(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    behaviour = Behaviour()
    always_failing = new_hold_placed()
    behaviour.fail_times[always_failing.hold_id] = 99
    await send_envelope(producer, ledger_topic, Envelope.wrap(always_failing, source=SOURCE))

    async with running_consumer(
        infra, ledger_topic, f"g-{uuid.uuid4().hex}", sessionmaker, producer, behaviour
    ) as c:
        assert await eventually(lambda: _dead_lettered(c))

    from aiokafka import AIOKafkaConsumer

    reader = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        dlt = topics.dead_letter(ledger_topic)
        reader.assign([TopicPartition(dlt, p) for p in reader.partitions_for_topic(dlt) or {0, 1, 2}])
        await reader.seek_to_beginning()
        records = [r for batch in (await reader.getmany(timeout_ms=5000)).values() for r in batch]
    finally:
        await reader.stop()
    headers = dict(records[0].headers)
    assert headers["dlt_error_type"] == b"RuntimeError"
    assert b"a bug that goes away on retry" in headers["dlt_error"]
    assert headers["dlt_original_topic"] == ledger_topic.encode()
    assert behaviour.calls == 3, "tried max_attempts times before parking it"
    assert await effects_of(sessionmaker, always_failing.hold_id) == 0, (
        "no partial effect of a failed attempt"
    )


async def _dead_lettered(consumer: EventConsumer) -> bool:
    return consumer.dead_lettered_total > 0


async def test_a_failure_before_the_db_commit_leaves_the_offset_uncommitted_and_the_event_is_retried(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    event = new_hold_placed()
    group = f"g-{uuid.uuid4().hex}"
    await send_envelope(producer, ledger_topic, Envelope.wrap(event, source=SOURCE))

    down = Behaviour(fail_transiently_for={event.hold_id})
    async with running_consumer(infra, ledger_topic, group, sessionmaker, producer, down):
        assert await eventually(lambda: _called(down, 3), timeout_s=20)
    assert await effects_of(sessionmaker, event.hold_id) == 0, "each failed attempt rolled back"
    assert await committed_offsets(infra, group) == {}, "nothing committed while the event was not applied"

    # The process is gone; a new one reads from the last commit and applies the event, once.
    up = Behaviour()
    async with running_consumer(infra, ledger_topic, group, sessionmaker, producer, up):
        assert await eventually(lambda: _applied(sessionmaker, event.hold_id))
        assert await eventually(lambda: _committed(infra, group))
    assert await effects_of(sessionmaker, event.hold_id) == 1


async def _called(behaviour: Behaviour, times: int) -> bool:
    return behaviour.calls >= times


async def _committed(infra: Infra, group: str) -> bool:
    return sum((await committed_offsets(infra, group)).values()) >= 1


async def test_a_handler_that_fails_once_is_retried_and_applied_once_not_dead_lettered(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    event = new_hold_placed()
    behaviour = Behaviour(fail_times={event.hold_id: 1})
    await send_envelope(producer, ledger_topic, Envelope.wrap(event, source=SOURCE))

    async with running_consumer(
        infra, ledger_topic, f"g-{uuid.uuid4().hex}", sessionmaker, producer, behaviour
    ) as c:
        assert await eventually(lambda: _applied(sessionmaker, event.hold_id))
        assert c.dead_lettered_total == 0
    assert await effects_of(sessionmaker, event.hold_id) == 1
    assert behaviour.calls == 2


async def test_an_event_from_a_source_that_does_not_own_its_type_is_dead_lettered(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    """A hold answer is the ledger's to give: the same payload signed `/attacker` is never applied."""
    spoofed = new_hold_placed()
    genuine = new_hold_placed(elu_id=spoofed.elu_id)
    await send_envelope(producer, ledger_topic, Envelope.wrap(spoofed, source="/attacker"))
    await send_envelope(producer, ledger_topic, Envelope.wrap(genuine, source=SOURCE))

    async with running_consumer(
        infra, ledger_topic, f"g-{uuid.uuid4().hex}", sessionmaker, producer, Behaviour()
    ):
        assert await eventually(lambda: _applied(sessionmaker, genuine.hold_id))

    assert await effects_of(sessionmaker, spoofed.hold_id) == 0
    headers = await dead_letter_headers(infra, topics.dead_letter(ledger_topic))
    assert headers["dlt_error_type"] == b"UntrustedEvent"
    assert b"/attacker" in headers["dlt_error"]


async def dead_letter_headers(infra: Infra, dlt: str) -> dict[str, bytes]:
    """The headers of the first record parked on a dead-letter topic."""
    from aiokafka import AIOKafkaConsumer

    reader = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False)
    await reader.start()
    try:
        reader.assign([TopicPartition(dlt, p) for p in reader.partitions_for_topic(dlt) or {0, 1, 2}])
        await reader.seek_to_beginning()
        records = [r for batch in (await reader.getmany(timeout_ms=5000)).values() for r in batch]
    finally:
        await reader.stop()
    assert records, f"nothing on {dlt}"
    return {name: value or b"" for name, value in records[0].headers}


async def test_an_event_on_a_topic_that_does_not_own_its_type_is_dead_lettered(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    unique_prefix: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    """A ledger event sent on the funding topic, even with the ledger's source, is not believed."""
    funding_topic = unique_prefix + topics.FUNDING
    await ensure_topics(
        infra.kafka_bootstrap, [funding_topic, topics.dead_letter(funding_topic)], partitions=1
    )
    smuggled = new_hold_placed()
    await send_envelope(producer, funding_topic, Envelope.wrap(smuggled, source=SOURCE))

    consumer = EventConsumer(
        ConsumerSpec(name="test", topics=[topics.FUNDING], handlers=handlers_for(Behaviour())),
        bootstrap_servers=infra.kafka_bootstrap,
        group_id=f"g-{uuid.uuid4().hex}",
        physical_topics=[funding_topic],
        sessionmaker=sessionmaker,
        producer=producer,
        service_name="servicekit-tests",
        topic_prefix=unique_prefix,
    )
    task = asyncio.create_task(consumer.run())
    try:
        parked = await collect(infra, topics.dead_letter(funding_topic), count=1, timeout_s=15)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert len(parked) == 1 and parked[0].type == smuggled.ce_type
    assert await effects_of(sessionmaker, smuggled.hold_id) == 0
    headers = await dead_letter_headers(infra, topics.dead_letter(funding_topic))
    assert b"published only on dife.ledger.events" in headers["dlt_error"]
