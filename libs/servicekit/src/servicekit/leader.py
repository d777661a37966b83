"""One active worker per service database (the outbox relay, a service's job runner): a session-level
advisory lock held by the worker's own connection, and a wait for a wake-up or the next poll."""

from __future__ import annotations

import asyncio
import contextlib

import asyncpg

_TRY_LOCK_SQL = "SELECT pg_try_advisory_lock(hashtext($1))"


async def become_leader(
    connection: asyncpg.Connection, lock_name: str, *, standby_retry_s: float = 2.0
) -> None:
    """Return once ``connection`` holds the lock ``lock_name``; other replicas wait here on standby. The lock
    goes with the connection, so a dead worker hands over to a standby."""
    while not await connection.fetchval(_TRY_LOCK_SQL, lock_name):
        await asyncio.sleep(standby_retry_s)


async def wait_for_wake(wake: asyncio.Event, timeout_s: float) -> None:
    """Until ``wake`` is set or ``timeout_s`` passes. asyncio.timeout, not wait_for: on Python 3.11 wait_for
    swallows a cancellation arriving as the wake-up fires, and the app's shutdown would wait forever."""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(timeout_s):
            await wake.wait()
