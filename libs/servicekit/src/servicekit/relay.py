"""The outbox relay: publishes committed outbox rows to Kafka, in id order, then deletes them.

One relay is active per service database (a session-level advisory lock; other replicas stand by).
It wakes on the outbox's NOTIFY and polls as a fallback. A row is deleted only after Kafka acknowledged it
(acks=all, idempotent librdkafka producer: `servicekit.kafka.RelayProducer`), so a crash at any point
republishes rather than loses: at-least-once, with consumers deduplicating on the CloudEvents id.
Guarantees and their tests: ``OUTBOX.md``.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from dife_contracts.envelope import CONTENT_TYPE, JSON, SPECVERSION, TRACEPARENT

from servicekit import metrics
from servicekit.kafka import RelayProducer
from servicekit.leader import become_leader, wait_for_wake
from servicekit.tables import BULK_LANE, INTERACTIVE_LANE, OUTBOX_NOTIFY_CHANNEL

log = structlog.get_logger(__name__)

RELAY_LOCK = "dife.outbox.relay"
# One statement, so one snapshot, chooses the batch (OUTBOX.md, Lanes):
#   urgent  the oldest interactive rows;
#   earlier the bulk rows of the same key (topic, subject) older than an urgent row: sent with them, in id
#           order, so an interactive event never overtakes an earlier event of its own key;
#   bulk    the oldest bulk rows, only if the interactive rows left room (when they fill the batch, an
#           interactive row not taken could have a newer bulk row of its key, which must not go first), and
#           not at all when $2 says the urgent rows go alone (OUTBOX.md, Lanes).
# The urgent and earlier rows come first (in id order), then the bulk ones (in id order): a bulk row of an
# urgent row's key is either earlier (sent before it) or newer (sent after it), so every key keeps its order.
# The CloudEvents headers come out as bytes (`Envelope.kafka_headers`' exact values, proven by
# test_relay_lanes.py), so the relay builds no Envelope per row; even ce_time is written by PostgreSQL, as
# `format_time` writes it (RFC 3339, UTC, "Z", microseconds only when there are some): formatting it in
# Python was a tenth of the relay's CPU.
_COLUMNS = """id, topic, convert_to(ce_subject, 'UTF8') AS key, payload, created_at,
    convert_to(to_char(ce_time AT TIME ZONE 'UTC',
        CASE WHEN date_trunc('second', ce_time) = ce_time THEN 'YYYY-MM-DD"T"HH24:MI:SS"Z"'
             ELSE 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"' END), 'UTF8') AS ce_time,
    convert_to(ce_id::text, 'UTF8') AS ce_id, convert_to(ce_type, 'UTF8') AS ce_type,
    convert_to(ce_source, 'UTF8') AS ce_source, convert_to(traceparent, 'UTF8') AS traceparent"""
_FETCH_SQL = f"""
    WITH urgent AS (
        SELECT id, topic, ce_subject FROM outbox WHERE lane = {INTERACTIVE_LANE} ORDER BY id LIMIT $1
    ), with_urgent AS (
        SELECT id FROM urgent
        UNION
        SELECT earlier.id FROM urgent u CROSS JOIN LATERAL (
            SELECT id FROM outbox b
            WHERE b.ce_subject = u.ce_subject AND b.topic = u.topic AND b.lane = {BULK_LANE}
              AND b.id + 0 < u.id  -- "+ 0": by the key's index only, never a primary-key range per row
            OFFSET 0
        ) earlier
    )
    (SELECT o.*, true AS with_urgent FROM with_urgent CROSS JOIN LATERAL (
        -- One primary-key lookup per row: a merge join would walk the backlog's index up to an interactive
        -- row at its end. OFFSET 0 keeps it a lookup whatever the (often stale: the table churns)
        -- statistics say.
        SELECT {_COLUMNS} FROM outbox WHERE outbox.id = with_urgent.id OFFSET 0
    ) o)
    UNION ALL
    (SELECT {_COLUMNS}, false FROM outbox
     WHERE lane = {BULK_LANE} AND id NOT IN (SELECT id FROM with_urgent)
     ORDER BY id LIMIT CASE WHEN $2 AND EXISTS (SELECT FROM urgent) THEN 0
                            ELSE greatest($1 - (SELECT count(*) FROM urgent), 0) END)
    ORDER BY with_urgent DESC, id
"""
_DELETE_SQL = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"
_BACKLOG_SQL = """
    SELECT count(*) AS rows,
           coalesce(extract(epoch FROM clock_timestamp() - min(created_at)), 0) AS oldest_age_s
    FROM outbox
"""
RELAY_SESSION_SETTINGS = {"enable_seqscan": "off", "plan_cache_mode": "force_custom_plan"}
"""The relay's connection settings. Its statement is planned when the outbox is often empty (statistics say
0 rows), and kept: the per-row lookups then became sequential scans, and once a campaign or an import had
committed 600,000 rows one fetch ran for minutes (the 3.4–70 s outliers of bench/relay.py's lanes phase,
and a campaign whose outbox never drained). A queue is read by its indexes whatever the statistics say."""
BACKLOG_EVERY_S = 5.0
"""How often the backlog gauges are refreshed, draining or idle (a count of the outbox is not free)."""
_SPECVERSION = SPECVERSION.encode()
_CONTENT_TYPE = JSON.encode()


async def fetch_batch(
    connection: asyncpg.Connection, limit: int, *, urgent_alone: bool = False
) -> Sequence[asyncpg.Record]:
    """The next rows to publish: interactive ones with the older bulk rows of their keys, in id order, then
    bulk ones in id order if there is room, and if there are no interactive ones or ``urgent_alone`` is
    false."""
    rows: Sequence[asyncpg.Record] = await connection.fetch(_FETCH_SQL, limit, urgent_alone)
    return rows


def kafka_headers(row: asyncpg.Record) -> list[tuple[str, bytes]]:
    """The row's CloudEvents headers, as `Envelope.kafka_headers()` would give them (binary mode)."""
    headers = [
        ("ce_id", row["ce_id"]),
        ("ce_type", row["ce_type"]),
        ("ce_source", row["ce_source"]),
        ("ce_specversion", _SPECVERSION),
        ("ce_time", row["ce_time"]),
        ("ce_subject", row["key"]),
        (CONTENT_TYPE, _CONTENT_TYPE),
    ]
    if row["traceparent"] is not None:
        headers.append((TRACEPARENT, row["traceparent"]))
    return headers


class OutboxRelay:
    def __init__(
        self,
        *,
        dsn: str,
        producer: RelayProducer,
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
        self._urgent_went_alone = False
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
        connection: asyncpg.Connection = await asyncpg.connect(
            self._dsn, server_settings=RELAY_SESSION_SETTINGS
        )
        try:
            await become_leader(connection, RELAY_LOCK, standby_retry_s=self._standby_retry_s)
            self.is_active = True
            log.info("outbox relay active", service=self._service)
            await connection.add_listener(OUTBOX_NOTIFY_CHANNEL, self._on_notify)
            await self._drain_forever(connection)
        finally:
            self.is_active = False
            await connection.close(timeout=2)

    async def stop(self) -> None:
        """Once its task is cancelled: let the producer finish what is in flight (briefly)."""
        await self._producer.stop()

    def _on_notify(self, *_: Any) -> None:
        self._wake.set()

    async def _drain_forever(self, connection: asyncpg.Connection) -> None:
        measured_at = 0.0
        while True:
            if time.monotonic() - measured_at >= BACKLOG_EVERY_S:
                await self._measure_backlog(connection)
                measured_at = time.monotonic()
            # Cleared before reading, so a NOTIFY arriving during the read is not missed.
            self._wake.clear()
            if await self.publish_batch(connection):
                continue
            await wait_for_wake(self._wake, self._poll_interval_s)

    async def _measure_backlog(self, connection: asyncpg.Connection) -> None:
        """Rows waiting, and how long the oldest has waited (the alert on a stuck relay reads this one)."""
        backlog = await connection.fetchrow(_BACKLOG_SQL)
        metrics.OUTBOX_BACKLOG.labels(self._service).set(backlog["rows"])
        metrics.OUTBOX_OLDEST_AGE_SECONDS.labels(self._service).set(float(backlog["oldest_age_s"]))

    async def publish_batch(self, connection: asyncpg.Connection) -> int:
        """Publish the next rows (`fetch_batch`) and delete them once every one is acknowledged.

        Interactive rows found while bulk ones wait go alone (with their keys' earlier rows): they are
        acknowledged without waiting for hundreds of bulk records. The next batch is filled with bulk rows
        again whatever it finds, so a steady stream of interactive rows never starves the bulk lane."""
        urgent_alone = not self._urgent_went_alone
        rows = await fetch_batch(connection, self._batch_size, urgent_alone=urgent_alone)
        if not rows:
            return 0
        prefix = self._prefix
        await self._producer.send_all(
            (prefix + row["topic"], row["key"], row["payload"], kafka_headers(row)) for row in rows
        )
        await connection.execute(_DELETE_SQL, [row["id"] for row in rows])
        self._urgent_went_alone = urgent_alone and any(row["with_urgent"] for row in rows)
        self._observe(rows)
        return len(rows)

    def _observe(self, rows: Sequence[asyncpg.Record]) -> None:
        # The oldest row of the batch waited longest: one observation per batch keeps the hot path cheap.
        oldest = min(row["created_at"] for row in rows)
        metrics.RELAY_LATENCY_SECONDS.labels(self._service).observe(
            (datetime.now(UTC) - oldest).total_seconds()
        )
        for (topic, event_type), count in Counter((row["topic"], row["ce_type"]) for row in rows).items():
            metrics.EVENTS_PUBLISHED.labels(self._service, topic, event_type.decode()).inc(count)
        self.published_total += len(rows)
