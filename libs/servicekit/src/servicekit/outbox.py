"""Writing events to the transactional outbox, in the caller's transaction.

The state change and its events commit together or not at all; the relay (`servicekit.relay`) publishes
committed rows. Nobody publishes to Kafka by hand. Guarantees: see ``libs/servicekit/OUTBOX.md``.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Protocol

from dife_contracts import Event, topics
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.db import CE_SOURCE_INFO, transaction_driver
from servicekit.tables import BULK_LANE
from servicekit.tracing import current_traceparent

_COPY_COLUMNS = ("topic", "ce_id", "ce_type", "ce_source", "ce_subject", "ce_time", "traceparent", "payload")
_INSERT_SQL = f"INSERT INTO outbox ({', '.join(_COPY_COLUMNS)}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"


def _row(event: Event, source: str, time: datetime, traceparent: str | None) -> tuple[object, ...]:
    """The envelope's attributes as an outbox row (the relay turns it into an `Envelope` on the way out)."""
    return (
        event.topic,
        uuid.uuid4(),
        event.ce_type,
        source,
        event.aggregate_id(),
        time,
        traceparent,
        event.to_json(),
    )


def _source(session: AsyncSession, source: str | None) -> str:
    """The given source, else the service's own (stamped on its sessions by `db.make_sessionmaker`)."""
    found = source or session.info.get(CE_SOURCE_INFO)
    if not found:
        raise ValueError("no ce_source: build the session with servicekit.db.make_sessionmaker(ce_source=…)")
    return str(found)


async def enqueue(session: AsyncSession, event: Event, *, source: str | None = None) -> uuid.UUID:
    """Add one event to the outbox within the session's transaction; returns its CloudEvents id."""
    row = _row(event, _source(session, source), datetime.now(UTC), current_traceparent.get())
    driver = await transaction_driver(session)  # every answer of every service passes here: no ORM cost
    await driver.execute(_INSERT_SQL, *row)
    return row[1]  # type: ignore[return-value]


async def enqueue_each(session: AsyncSession, events: Iterable[Event], *, source: str | None = None) -> int:
    """Add a few events, each in the interactive lane like `enqueue`, in one round trip (an aggregate's
    events, the answers to a run of requests). Each event carries the trace of the request it answers when
    `current_traceparent` is set around it; here they share the caller's."""
    source = _source(session, source)
    now, traceparent = datetime.now(UTC), current_traceparent.get()
    rows = [_row(event, source, now, traceparent) for event in events]
    if rows:
        driver = await transaction_driver(session)
        await driver.executemany(_INSERT_SQL, rows)
    return len(rows)


async def enqueue_many(session: AsyncSession, events: Iterable[Event], *, source: str | None = None) -> int:
    """Add many events with one COPY (bulk jobs: a crediting campaign writes hundreds of thousands), in the
    bulk lane: the relay sends interactive events (`enqueue`) first."""
    source = _source(session, source)
    now, traceparent = datetime.now(UTC), current_traceparent.get()
    records = [(*_row(event, source, now, traceparent), BULK_LANE) for event in events]
    if not records:
        return 0
    driver = await transaction_driver(session)  # a COPY before the transaction began would autocommit
    await driver.copy_records_to_table("outbox", records=records, columns=[*_COPY_COLUMNS, "lane"])
    return len(records)


def insert_from_select_sql(rows_sql: str) -> str:
    """``INSERT INTO outbox`` one event per row of ``rows_sql``, built by PostgreSQL itself.

    For set-based jobs (a crediting campaign, an RNE import) where building one pydantic model per event in
    Python would cost more than the SQL that changes the state. ``rows_sql`` yields ``subject`` (the
    aggregate id, as text) and ``payload`` (json or jsonb, the event's fields); usable as a data-modifying
    CTE in the statement that changes the state. Bind `insert_from_select_params`. The events go in the bulk
    lane (relayed after interactive ones). The payload bypasses the pydantic model: a service using this
    proves in its tests that every such event parses with its contract.
    """
    return (
        "INSERT INTO outbox (topic, ce_id, ce_type, ce_source, ce_subject, ce_time, traceparent, payload, "
        "lane) "
        "SELECT CAST(:ob_topic AS text), gen_random_uuid(), CAST(:ob_ce_type AS text), "
        "CAST(:ob_source AS text), "
        "e.subject, now(), CAST(:ob_traceparent AS text), convert_to(e.payload::text, 'UTF8'), "
        f"{BULK_LANE} "
        f"FROM ({rows_sql}) e"
    )


def insert_from_select_params(event_type: type[Event], *, source: str | None = None) -> dict[str, object]:
    """Parameters of `insert_from_select_sql`; the source defaults to the owner of the event's topic."""
    return {
        "ob_topic": event_type.topic,
        "ob_ce_type": event_type.ce_type,
        "ob_source": source or topics.source_of(event_type.topic),
        "ob_traceparent": current_traceparent.get(),
    }


class Outbox(Protocol):
    """What a use case needs to publish: events added here commit with the state change."""

    async def add(self, event: Event) -> None: ...

    async def add_many(self, events: Iterable[Event]) -> None: ...


class SessionOutbox:
    """`Outbox` writing to the outbox table in the session's transaction. Events go in the interactive lane;
    a job that publishes in bulk (an expiry, a day's batch) says ``bulk=True``, so its `add_many` takes the
    bulk lane and never holds up interactive answers."""

    def __init__(self, session: AsyncSession, *, bulk: bool = False) -> None:
        self._session = session
        self._bulk = bulk

    async def add(self, event: Event) -> None:
        await enqueue(self._session, event)

    async def add_many(self, events: Iterable[Event]) -> None:
        if self._bulk:
            await enqueue_many(self._session, events)
        else:
            await enqueue_each(self._session, events)
