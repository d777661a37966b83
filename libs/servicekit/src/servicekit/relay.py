"""The outbox relay: publishes committed outbox rows to Kafka, in id order, then deletes them.

One relay is active per service database (a session-level advisory lock; other replicas stand by).
It wakes on the outbox's NOTIFY and polls as a fallback. A row is deleted only after Kafka acknowledged it
(acks=all, idempotent producer), so a crash at any point republishes rather than loses: at-least-once,
with consumers deduplicating on the CloudEvents id. Guarantees and their tests: ``OUTBOX.md``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from aiokafka import AIOKafkaProducer
from dife_contracts import Envelope

from servicekit import metrics
from servicekit.tables import OUTBOX_NOTIFY_CHANNEL

log = structlog.get_logger(__name__)

RELAY_LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext('dife.outbox.relay'))"
_FETCH_SQL = """
    SELECT id, topic, ce_id, ce_type, ce_source, ce_subject, ce_time, traceparent, payload, created_at
    FROM outbox ORDER BY id LIMIT $1
"""
_DELETE_SQL = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"
_BACKLOG_SQL = "SELECT count(*) FROM outbox"


class OutboxRelay:
    def __init__(
        self,
        *,
        dsn: str,
        producer: AIOKafkaProducer,
        service_name: str,
        topic_prefix: str = "",
        batch_size: int = 500,
        poll_interval_s: float = 0.5,
        standby_retry_s: float = 2.0,
    ) -> None:
        self._dsn = dsn
        self._producer = producer
        self._service = service_name
        self._prefix = topic_prefix
        self._batch_size = batch_size
        self._poll_interval_s = poll_interval_s
        self._standby_retry_s = standby_retry_s
        self._wake = asyncio.Event()
        self.is_active = False
        self.published_total = 0

    async def run(self) -> None:
        """Relay until cancelled; reconnects and re-takes the lock after any failure."""
        while True:
            try:
                await self._run_once()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                self.is_active = False
                log.warning("outbox relay failed; restarting", error=repr(error))
                await asyncio.sleep(1.0)

    async def _run_once(self) -> None:
        connection: asyncpg.Connection = await asyncpg.connect(self._dsn)
        try:
            while not await connection.fetchval(RELAY_LOCK_SQL):
                await asyncio.sleep(self._standby_retry_s)
            self.is_active = True
            log.info("outbox relay active", service=self._service)
            await connection.add_listener(OUTBOX_NOTIFY_CHANNEL, self._on_notify)
            await self._drain_forever(connection)
        finally:
            self.is_active = False
            await connection.close(timeout=2)

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _drain_forever(self, connection: asyncpg.Connection) -> None:
        idle_cycles = 0
        while True:
            # Cleared before reading, so a NOTIFY arriving during the read is not missed.
            self._wake.clear()
            published = await self.publish_batch(connection)
            if published:
                idle_cycles = 0
                continue
            idle_cycles += 1
            if idle_cycles % 10 == 1:
                metrics.OUTBOX_BACKLOG.labels(self._service).set(await connection.fetchval(_BACKLOG_SQL))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self._poll_interval_s)

    async def publish_batch(self, connection: asyncpg.Connection) -> int:
        """Publish the oldest rows and delete them once every one is acknowledged."""
        rows: Sequence[asyncpg.Record] = await connection.fetch(_FETCH_SQL, self._batch_size)
        if not rows:
            return 0
        deliveries = [await self._send(row) for row in rows]
        await asyncio.gather(*deliveries)
        await connection.execute(_DELETE_SQL, [row["id"] for row in rows])
        now = datetime.now(UTC)
        for row in rows:
            metrics.RELAY_LATENCY_SECONDS.labels(self._service).observe(
                (now - row["created_at"]).total_seconds()
            )
            metrics.EVENTS_PUBLISHED.labels(self._service, row["topic"]).inc()
        self.published_total += len(rows)
        return len(rows)

    async def _send(self, row: asyncpg.Record) -> asyncio.Future[Any]:
        envelope = Envelope(
            id=str(row["ce_id"]),
            type=row["ce_type"],
            source=row["ce_source"],
            subject=row["ce_subject"],
            time=row["ce_time"],
            data=bytes(row["payload"]),
            traceparent=row["traceparent"],
        )
        return await self._producer.send(
            self._prefix + row["topic"],
            value=envelope.data,
            key=envelope.kafka_key(),
            headers=envelope.kafka_headers(),
        )
