"""Test support on the real Kafka and PostgreSQL: fixtures live in `plugin`, helpers here."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from dife_contracts import Envelope, Event, topics
from fastapi import FastAPI
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit.consumer import EventHandlers, EventMeta
from servicekit.db import plain_url
from servicekit.kafka import RelayProducer, delete_topics
from servicekit.migrations import upgrade_to_head
from servicekit.relay import OutboxRelay
from servicekit.state import kit_state
from servicekit.tables import inbox
from servicekit.testing.infra import Infra

__all__ = [
    "Infra",
    "collect",
    "create_database",
    "dispatch",
    "drop_databases",
    "eventually",
    "migrate",
    "own_topics",
    "publish",
    "read_to_end",
    "run_due_jobs",
    "running_app",
    "running_relay",
]


async def create_database(pg_admin_url: str, name: str) -> str:
    """Create the empty database `name` on the server `pg_admin_url` names; its SQLAlchemy (asyncpg) URL."""
    admin = await asyncpg.connect(pg_admin_url)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = pg_admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def drop_databases(pg_admin_url: str, names: Iterable[str]) -> None:
    """Drop each database, `WITH (FORCE)`: a connection a killed process left open does not keep it."""
    admin = await asyncpg.connect(pg_admin_url)
    try:
        for name in names:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


async def migrate(alembic_ini: str | Path, database_url: str) -> None:
    """Run a service's real Alembic migrations (in a thread: Alembic's env runs its own event loop)."""
    await asyncio.to_thread(upgrade_to_head, alembic_ini, database_url)


@asynccontextmanager
async def own_topics(infra: Infra, run_prefix: str) -> AsyncIterator[str]:
    """A topic prefix of its own under the run's, so a consumer that reads its topics from the start sees
    only the block's events; the topics go when the block ends. A whole run creates some 2,000 topics:
    left for the session's end, one worker deleting its share at once kept the broker from showing new
    topics for more than 30 s on a loaded 2-core machine, and the other workers' set-ups timed out."""
    prefix = f"{run_prefix}{uuid.uuid4().hex[:8]}."
    try:
        yield prefix
    finally:
        await delete_topics(infra.kafka_bootstrap, prefix)


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (relay, consumers) and give a client bound to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


@asynccontextmanager
async def running_relay(
    database_url: str, producer: RelayProducer, topic_prefix: str, **options: Any
) -> AsyncIterator[OutboxRelay]:
    """An outbox relay of `database_url` running in the background for the block's duration."""
    relay = OutboxRelay(
        dsn=plain_url(database_url),
        producer=producer,
        service_name="servicekit-tests",
        topic_prefix=topic_prefix,
        **options,
    )
    task = asyncio.create_task(relay.run())
    try:
        yield relay
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def publish(infra: Infra, topic_prefix: str, event: Event, *, source: str | None = None) -> Envelope:
    """Put an event on Kafka exactly as its producing context's relay would (its owner's `ce_source`)."""
    envelope = Envelope.wrap(event, source=source or topics.source_of(event.topic))
    producer = AIOKafkaProducer(bootstrap_servers=infra.kafka_bootstrap, enable_idempotence=True, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            topic_prefix + event.topic,
            value=envelope.data,
            key=envelope.kafka_key(),
            headers=envelope.kafka_headers(),
        )
    finally:
        await producer.stop()
    return envelope


async def collect(
    infra: Infra,
    topic: str,
    *,
    count: int,
    timeout_s: float = 20.0,
    where: Callable[[Envelope], bool] | None = None,
) -> list[Envelope]:
    """Read a physical topic from the beginning until ``count`` envelopes match (or the time is up)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    found: list[Envelope] = []
    try:
        deadline = time.monotonic() + timeout_s
        partitions: set[int] | None = None
        while partitions is None and time.monotonic() < deadline:
            partitions = consumer.partitions_for_topic(topic)
            if partitions is None:
                await consumer._client.force_metadata_update()  # the topic may appear a moment later
                await asyncio.sleep(0.1)
        if not partitions:
            return found
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        while len(found) < count and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    envelope = Envelope.from_kafka(record.key, record.value, record.headers)
                    if where is None or where(envelope):
                        found.append(envelope)
        return found
    finally:
        await consumer.stop()


async def read_to_end(infra: Infra, topic: str, *, timeout_s: float = 60.0) -> list[Envelope]:
    """Every envelope on a physical topic up to its end offsets at the time of the call: for checks of
    everything a topic holds, which must not depend on how fast the machine reads (a TimeoutError if the
    reading takes longer than ``timeout_s``)."""
    # earliest: a position reset of the assignment that lands after the seek must not skip to the end
    consumer = AIOKafkaConsumer(
        bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False, auto_offset_reset="earliest"
    )
    await consumer.start()
    try:
        async with asyncio.timeout(timeout_s):
            while not (partitions := consumer.partitions_for_topic(topic)):
                await consumer._client.force_metadata_update()
                await asyncio.sleep(0.1)
            assigned = [TopicPartition(topic, p) for p in partitions]
            consumer.assign(assigned)
            ends = await consumer.end_offsets(assigned)
            await consumer.seek_to_beginning()
            found: list[Envelope] = []
            while [tp for tp, end in ends.items() if await consumer.position(tp) < end]:
                for records in (await consumer.getmany(timeout_ms=200)).values():
                    found.extend(Envelope.from_kafka(r.key, r.value, r.headers) for r in records)
            return found
    finally:
        await consumer.stop()


async def eventually(
    predicate: Callable[[], Awaitable[bool]], *, timeout_s: float = 20.0, interval_s: float = 0.1
) -> bool:
    """Poll an async condition until true or the time is up; the test asserts the returned value."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if await predicate():
            return True
        await asyncio.sleep(interval_s)
    return await predicate()


async def run_due_jobs(app: FastAPI, kinds: list[str] | None = None) -> int:
    """Fire every job and timer due by the app's clock, once, in the test's task; returns how many ran."""
    runner = kit_state(app).jobs
    if runner is None:
        raise RuntimeError("this app registers no job kinds")
    return await runner.run_due(kinds)


async def dispatch(
    target: FastAPI | async_sessionmaker[AsyncSession],
    handlers: EventHandlers,
    event: Event,
    *,
    envelope: Envelope | None = None,
    group: str = "dispatch",
) -> bool:
    """Run the handler of `event` through the inbox in one transaction, as the consumer would, without Kafka.

    Pass the same `envelope` twice to replay one delivery: the second call returns False and changes nothing.
    """
    sessionmaker = kit_state(target).sessionmaker if isinstance(target, FastAPI) else target
    envelope = envelope or Envelope.wrap(event, source=topics.source_of(event.topic))
    handler = handlers.handler_for(envelope.type)
    if handler is None:
        raise LookupError(f"no handler for {envelope.type}")
    meta = EventMeta(envelope=envelope, topic=event.topic, partition=0, offset=0)
    async with sessionmaker.begin() as session:
        first = await session.scalar(
            pg_insert(inbox)
            .values(consumer_group=group, event_id=meta.event_id, ce_type=envelope.type)
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )
        if first is None:
            return False
        await handler(session, envelope.parse(), meta)
    return True
