"""The idempotent consumer on real Kafka and PostgreSQL (guarantees listed in OUTBOX.md)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from dife_contracts import Envelope, topics
from dife_contracts.events import HoldPlaced
from servicekit.consumer import (
    ConsumerSpec,
    EventConsumer,
    EventHandlers,
    EventMeta,
    TransientEventError,
    is_transient,
)
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
    attempts: dict[uuid.UUID, int] = field(default_factory=dict)  # hold id → handler calls
    transactions: dict[uuid.UUID, int] = field(default_factory=dict)  # hold id → txid of its last attempt


def handlers_for(behaviour: Behaviour) -> EventHandlers:
    handlers = EventHandlers()

    @handlers.on(HoldPlaced)
    async def record_hold(session: AsyncSession, event: HoldPlaced, meta: EventMeta) -> None:
        behaviour.calls += 1
        behaviour.attempts[event.hold_id] = behaviour.attempts.get(event.hold_id, 0) + 1
        await session.execute(
            text("INSERT INTO effects (event_id, hold_id) VALUES (:e, :h)"),
            {"e": meta.event_id, "h": event.hold_id},
        )
        behaviour.transactions[event.hold_id] = int(await session.scalar(text("SELECT txid_current()")) or 0)
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
    events_per_transaction: int = 100,
    handlers: EventHandlers | None = None,
) -> AsyncIterator[EventConsumer]:
    """The consumer on `topic`, with the test handler of `behaviour` unless other `handlers` are given."""
    consumer = EventConsumer(
        ConsumerSpec(name="test", topics=[topics.LEDGER], handlers=handlers or handlers_for(behaviour)),
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
        events_per_transaction=events_per_transaction,
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

    headers = await dead_letter_headers(infra, topics.dead_letter(ledger_topic))
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


def _one_key(new_hold_placed: Callable[..., HoldPlaced], count: int) -> list[HoldPlaced]:
    """`count` events of one élu: one key, so one partition, in order."""
    first = new_hold_placed()
    return [first, *(new_hold_placed(elu_id=first.elu_id) for _ in range(count - 1))]


async def _send_all(producer: AIOKafkaProducer, topic: str, events: list[HoldPlaced]) -> None:
    for event in events:
        await send_envelope(producer, topic, Envelope.wrap(event, source=SOURCE))


async def test_events_fetched_together_are_applied_in_shared_transactions_each_once(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    events = _one_key(new_hold_placed, 30)
    await _send_all(producer, ledger_topic, events)

    behaviour = Behaviour()
    async with running_consumer(
        infra, ledger_topic, f"g-{uuid.uuid4().hex}", sessionmaker, producer, behaviour
    ) as c:
        assert await eventually(lambda: _applied(sessionmaker, events[-1].hold_id))
        assert c.handled_total == 30
    assert [await effects_of(sessionmaker, e.hold_id) for e in events] == [1] * 30
    assert len(set(behaviour.transactions.values())) < 30, "every event had a transaction of its own"


async def test_with_one_event_per_transaction_each_event_has_its_own_transaction(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    events = _one_key(new_hold_placed, 10)
    await _send_all(producer, ledger_topic, events)

    behaviour = Behaviour()
    async with running_consumer(
        infra,
        ledger_topic,
        f"g-{uuid.uuid4().hex}",
        sessionmaker,
        producer,
        behaviour,
        events_per_transaction=1,
    ):
        assert await eventually(lambda: _applied(sessionmaker, events[-1].hold_id))
    assert len(set(behaviour.transactions.values())) == 10


async def test_a_failure_in_a_shared_transaction_rolls_back_all_then_each_event_is_applied_once_alone(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    before = new_hold_placed()
    failing_once = new_hold_placed(elu_id=before.elu_id)
    after = new_hold_placed(elu_id=before.elu_id)
    await _send_all(producer, ledger_topic, [before, failing_once, after])

    behaviour = Behaviour(fail_times={failing_once.hold_id: 1})
    async with running_consumer(
        infra, ledger_topic, f"g-{uuid.uuid4().hex}", sessionmaker, producer, behaviour
    ) as c:
        assert await eventually(lambda: _applied(sessionmaker, after.hold_id))
        assert c.dead_lettered_total == 0
    assert [await effects_of(sessionmaker, e.hold_id) for e in (before, failing_once, after)] == [1, 1, 1]
    assert len(set(behaviour.transactions.values())) == 3, "after the failure, one transaction per event"


async def test_a_poison_event_in_a_shared_transaction_is_dead_lettered_after_max_attempts_rest_applied(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    before = new_hold_placed()
    poison = new_hold_placed(elu_id=before.elu_id)
    after = new_hold_placed(elu_id=before.elu_id)
    poison_envelope = Envelope.wrap(poison, source=SOURCE)
    await send_envelope(producer, ledger_topic, Envelope.wrap(before, source=SOURCE))
    await send_envelope(producer, ledger_topic, poison_envelope)
    await send_envelope(producer, ledger_topic, Envelope.wrap(after, source=SOURCE))

    behaviour = Behaviour(fail_times={poison.hold_id: 99})
    async with running_consumer(
        infra, ledger_topic, f"g-{uuid.uuid4().hex}", sessionmaker, producer, behaviour
    ) as c:
        assert await eventually(lambda: _applied(sessionmaker, after.hold_id))
        assert c.dead_lettered_total == 1
    assert [await effects_of(sessionmaker, e.hold_id) for e in (before, poison, after)] == [1, 0, 1]
    assert behaviour.attempts[poison.hold_id] == 3, "max_attempts, the shared transaction's attempt included"
    parked = await collect(infra, topics.dead_letter(ledger_topic), count=1)
    assert [envelope.id for envelope in parked] == [poison_envelope.id]


@dataclass
class BatchBehaviour:
    """What the batch test handler does: record each call's size, fail runs larger than `fail_above`."""

    sizes: list[int] = field(default_factory=list)
    fail_above: int | None = None


def batch_handlers_for(behaviour: BatchBehaviour) -> EventHandlers:
    handlers = EventHandlers()

    @handlers.on_batch(HoldPlaced)
    async def record_holds(session: AsyncSession, events: Sequence[tuple[HoldPlaced, EventMeta]]) -> None:
        behaviour.sizes.append(len(events))
        for event, meta in events:
            await session.execute(
                text("INSERT INTO effects (event_id, hold_id) VALUES (:e, :h)"),
                {"e": meta.event_id, "h": event.hold_id},
            )
        if behaviour.fail_above is not None and len(events) > behaviour.fail_above:
            raise RuntimeError("a run too large for this handler")

    return handlers


async def _run_batch_consumer(
    infra: Infra,
    topic: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    behaviour: BatchBehaviour,
    last: HoldPlaced,
) -> EventConsumer:
    """Run the batch handler of `behaviour` until `last` is applied."""
    group = f"g-{uuid.uuid4().hex}"
    handlers = batch_handlers_for(behaviour)
    async with running_consumer(
        infra, topic, group, sessionmaker, producer, Behaviour(), handlers=handlers
    ) as consumer:
        assert await eventually(lambda: _applied(sessionmaker, last.hold_id))
    return consumer


async def test_a_batch_handler_takes_a_run_of_events_in_one_call_and_each_is_applied_once(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    events = _one_key(new_hold_placed, 20)
    envelopes = [Envelope.wrap(event, source=SOURCE) for event in events]
    for envelope in [*envelopes, envelopes[0]]:  # the first one twice: a redelivery
        await send_envelope(producer, ledger_topic, envelope)

    behaviour = BatchBehaviour()
    consumer = await _run_batch_consumer(infra, ledger_topic, sessionmaker, producer, behaviour, events[-1])

    assert [await effects_of(sessionmaker, e.hold_id) for e in events] == [1] * 20
    assert sum(behaviour.sizes) == 20 and max(behaviour.sizes) > 1, behaviour.sizes
    assert consumer.handled_total == 20


async def test_a_failing_batch_call_rolls_back_and_its_events_are_applied_one_per_call(
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    producer: AIOKafkaProducer,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    events = _one_key(new_hold_placed, 10)
    await _send_all(producer, ledger_topic, events)

    behaviour = BatchBehaviour(fail_above=1)
    consumer = await _run_batch_consumer(infra, ledger_topic, sessionmaker, producer, behaviour, events[-1])

    assert [await effects_of(sessionmaker, e.hold_id) for e in events] == [1] * 10
    assert max(behaviour.sizes) > 1, "the events never came as a run"
    assert behaviour.sizes.count(1) == 10, "each event once more alone after the failed run"
    assert consumer.dead_lettered_total == 0


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
    """The headers of the first record parked on a dead-letter topic. Subscribed with no group, the reader is
    given every partition Kafka's metadata lists (assigning guessed partitions made it wait a whole request
    timeout, 40 s, for the ones the topic does not have)."""
    reader = AIOKafkaConsumer(
        dlt, bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await reader.start()
    try:
        records = [r for batch in (await reader.getmany(timeout_ms=10_000)).values() for r in batch]
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


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (asyncpg.exceptions.DeadlockDetectedError("deadlock detected"), True),
        (asyncpg.exceptions.SerializationError("could not serialize access"), True),
        (asyncpg.exceptions.LockNotAvailableError("could not obtain lock"), True),
        (asyncpg.exceptions.ConnectionDoesNotExistError("connection was closed"), True),
        (asyncpg.exceptions.AdminShutdownError("terminating connection"), True),
        (asyncpg.exceptions.UniqueViolationError("duplicate key value"), False),
        (asyncpg.exceptions.CheckViolationError("violates check constraint"), False),
        (asyncpg.exceptions.InterfaceError("another operation is in progress"), False),
    ],
)
def test_errors_of_statements_sent_on_the_driver_are_retried_only_when_transient(
    error: Exception, transient: bool
) -> None:
    """Hot paths send statements on the driver (`transaction_driver`): asyncpg's errors, not SQLAlchemy's.
    A deadlock or a lost connection is retried (never dead-lettered); a broken constraint is not."""
    assert is_transient(error) is transient
