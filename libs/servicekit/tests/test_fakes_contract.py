"""The fakes use-case tests run on behave like the real adapters: one scenario suite, run on both."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dife_contracts.events import HoldPlaced, HoldReleased
from dife_contracts.examples import example
from servicekit.jobs import SessionScheduler
from servicekit.outbox import SessionOutbox
from servicekit.testing.fakes import FakeOutbox, FakeScheduler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T0 = datetime(2027, 3, 26, 9, 0, tzinfo=UTC)

PendingReader = Callable[[], Awaitable[dict[str, tuple[str, datetime]]]]


@asynccontextmanager
async def scheduler_of(
    kind: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> AsyncIterator[tuple[Any, PendingReader]]:
    if kind == "fake":
        fake = FakeScheduler()

        async def fake_pending() -> dict[str, tuple[str, datetime]]:
            return {str(j.key): (j.kind, j.run_after) for j in fake.pending.values()}

        yield fake, fake_pending
        return
    async with sessionmaker.begin() as session:

        async def real_pending() -> dict[str, tuple[str, datetime]]:
            rows = await session.execute(
                text("SELECT key, kind, run_after FROM kit_jobs WHERE status = 'pending'")
            )
            return {row.key: (row.kind, row.run_after) for row in rows}

        yield SessionScheduler(session), real_pending


@pytest.mark.parametrize("kind", ["fake", "postgresql"])
async def test_scheduler_replaces_by_key_and_cancels(
    kind: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    async with scheduler_of(kind, sessionmaker) as (scheduler, pending):
        await scheduler.schedule("answer", run_after=T0, params={"n": 1}, key="d:1")
        await scheduler.schedule("answer", run_after=T0 + timedelta(days=1), key="d:1")
        await scheduler.schedule("accept", run_after=T0, key="d:2")
        assert await pending() == {"d:1": ("answer", T0 + timedelta(days=1)), "d:2": ("accept", T0)}
        assert await scheduler.cancel("d:2") == 1
        assert await scheduler.cancel("d:2") == 0
        assert await scheduler.cancel("never") == 0
        assert await pending() == {"d:1": ("answer", T0 + timedelta(days=1))}
        with pytest.raises(ValueError):
            await scheduler.schedule("answer", run_after=datetime(2027, 1, 1), key="d:3")


@pytest.mark.parametrize("kind", ["fake", "postgresql"])
async def test_outbox_keeps_every_event_in_order(
    kind: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    events = [example(HoldPlaced), example(HoldReleased), example(HoldPlaced)]
    if kind == "fake":
        fake = FakeOutbox()
        await fake.add(events[0])
        await fake.add_many(events[1:])
        assert [e.ce_type for e in fake.events] == [e.ce_type for e in events]
        return
    async with sessionmaker.begin() as session:
        outbox = SessionOutbox(session)
        await outbox.add(events[0])
        await outbox.add_many(events[1:])
        rows = (await session.execute(text("SELECT ce_type, ce_source FROM outbox ORDER BY id"))).all()
    assert [row.ce_type for row in rows] == [e.ce_type for e in events]
    assert {row.ce_source for row in rows} == {"/dife/servicekit-tests"}
