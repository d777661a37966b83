"""Async SQLAlchemy engine and session factory, built by the app lifespan (never at import time)."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import event
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine


def make_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """A fixed pool of `pool_size` connections: a request finding them all busy waits for one (503 after
    the pool's timeout), and no connection is opened for a burst then closed.

    With an overflow, each burst beyond the pool opened connections that were closed again as soon as they
    came back: a PostgreSQL backend forked and torn down each time, and the statements prepared again. In
    the journey benchmark that was about 10 ms of PostgreSQL CPU per dossier. A fixed pool also bounds what
    a service can ask of PostgreSQL's `max_connections`, whatever its load."""
    engine = create_async_engine(
        url,
        pool_size=pool_size,
        max_overflow=0,
        connect_args={"server_settings": {"application_name": "dife"}},
    )
    event.listen(engine.sync_engine.pool, "checkout", _refuse_closed_connection)
    return engine


def _refuse_closed_connection(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """The pool's check at checkout, without a round trip: a pooled connection whose server went away (a
    restart, a terminated backend: the socket was closed) is replaced before the session uses it.

    Instead of ``pool_pre_ping``, whose ping on asyncpg is three round trips (``BEGIN``, ``;``,
    ``ROLLBACK``) before every transaction of every service. A connection lost without its socket being
    closed fails at its first statement instead; SQLAlchemy then invalidates the pool, and the caller answers
    503 or retries (consumers, jobs), as during an outage.
    """
    if dbapi_connection.driver_connection.is_closed():
        raise DisconnectionError("the pooled connection was closed by the server")


async def transaction_driver(session: AsyncSession) -> asyncpg.Connection:
    """The asyncpg connection under the session, inside the session's transaction: for hot statements
    without SQLAlchemy's cost (statement building, cache keys, result handling: 0.3–0.4 ms of CPU per
    statement on the benchmark machine, against 0.06 ms for the same prepared statement on the driver).

    SQLAlchemy begins the transaction on the driver lazily, at its first statement: a statement sent to the
    driver before that would autocommit, and survive a rollback. So the transaction is begun here first
    when it has not been yet (one round trip, only then)."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    if not driver.is_in_transaction():
        await connection.exec_driver_sql("SELECT 1")
    return driver


def make_sessionmaker(
    engine: AsyncEngine, *, ce_source: str | None = None
) -> async_sessionmaker[AsyncSession]:
    """Sessions of one service; `ce_source` (its CloudEvents source) lets the outbox stamp events itself."""
    return async_sessionmaker(engine, expire_on_commit=False, info={CE_SOURCE_INFO: ce_source})


CE_SOURCE_INFO = "dife.ce_source"


def plain_url(url: str) -> str:
    """The libpq form of a SQLAlchemy URL (``postgresql+asyncpg://`` → ``postgresql://``) for asyncpg."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


async def make_read_pool(url: str, *, max_size: int = 10) -> asyncpg.Pool:
    """A plain driver pool for hot read paths (balance reads, public search): one statement, no ORM, no
    transaction and no ping per checkout. Writes go through the session, so they join the outbox.

    Code on this pool changes no session state (no SET, LISTEN, advisory lock or cursor left open), so a
    connection going back to the pool skips asyncpg's reset statement (`RESET ALL; UNLISTEN *; …`), one
    round trip per request; an open transaction is still rolled back by asyncpg itself."""
    return await asyncpg.create_pool(plain_url(url), min_size=1, max_size=max_size, reset=_keep_session_state)


async def _keep_session_state(connection: asyncpg.Connection) -> None:
    """The read pool's `reset`: nothing beyond asyncpg's own rollback of an unfinished transaction."""
