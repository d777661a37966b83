"""Writing events to the transactional outbox, in the caller's transaction.

The state change and its events commit together or not at all; the relay (`servicekit.relay`) publishes
committed rows. Nobody publishes to Kafka by hand. Guarantees: see ``libs/servicekit/OUTBOX.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime

from dife_contracts import Envelope, Event
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.tables import outbox
from servicekit.tracing import current_traceparent

_COPY_COLUMNS = ("topic", "ce_id", "ce_type", "ce_source", "ce_subject", "ce_time", "traceparent", "payload")


def _row(event: Event, source: str, time: datetime) -> tuple[object, ...]:
    envelope = Envelope.wrap(event, source=source, time=time, traceparent=current_traceparent.get())
    return (
        event.topic,
        uuid.UUID(envelope.id),
        envelope.type,
        envelope.source,
        envelope.subject,
        envelope.time,
        envelope.traceparent,
        envelope.data,
    )


async def enqueue(session: AsyncSession, event: Event, *, source: str) -> uuid.UUID:
    """Add one event to the outbox within the session's transaction; returns its CloudEvents id."""
    row = dict(zip(_COPY_COLUMNS, _row(event, source, datetime.now(UTC)), strict=True))
    await session.execute(insert(outbox).values(**row))
    return row["ce_id"]  # type: ignore[return-value]


async def enqueue_many(session: AsyncSession, events: Iterable[Event], *, source: str) -> int:
    """Add many events with one COPY (bulk jobs: a crediting campaign writes hundreds of thousands)."""
    now = datetime.now(UTC)
    records = [_row(event, source, now) for event in events]
    if not records:
        return 0
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    await raw.driver_connection.copy_records_to_table(  # type: ignore[union-attr]
        "outbox", records=records, columns=list(_COPY_COLUMNS)
    )
    return len(records)
