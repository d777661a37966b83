"""Test support on the real Kafka and PostgreSQL: fixtures live in `plugin`, helpers here."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from dife_contracts import Envelope, Event
from fastapi import FastAPI

from servicekit.migrations import upgrade_to_head
from servicekit.testing.infra import Infra

__all__ = ["Infra", "collect", "eventually", "migrate", "publish", "running_app"]


async def migrate(alembic_ini: str | Path, database_url: str) -> None:
    """Run a service's real Alembic migrations (in a thread: Alembic's env runs its own event loop)."""
    await asyncio.to_thread(upgrade_to_head, alembic_ini, database_url)


@asynccontextmanager
async def running_app(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """Run the app's lifespan (relay, consumers) and give a client bound to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield client


async def publish(infra: Infra, topic_prefix: str, event: Event, *, source: str = "/dife/test") -> Envelope:
    """Put an event on Kafka exactly as its producing context's relay would."""
    envelope = Envelope.wrap(event, source=source)
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
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False)
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
