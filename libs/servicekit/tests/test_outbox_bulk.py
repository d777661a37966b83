"""`enqueue_many` writes in the caller's transaction even as its first statement; the lane of `add_many`."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from dife_contracts.events import HoldPlaced
from servicekit.outbox import SessionOutbox, enqueue_many
from servicekit.tables import BULK_LANE, INTERACTIVE_LANE, outbox
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SOURCE = "/dife/servicekit-tests"


async def outbox_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(outbox)) or 0)


async def test_events_of_enqueue_many_as_first_statement_of_a_rolled_back_transaction_are_not_written(
    sessionmaker: async_sessionmaker[AsyncSession], new_hold_placed: Callable[..., HoldPlaced]
) -> None:
    with pytest.raises(RuntimeError):
        async with sessionmaker.begin() as session:
            await enqueue_many(session, [new_hold_placed(), new_hold_placed()], source=SOURCE)
            raise RuntimeError("the state change failed after the events were written")

    assert await outbox_rows(sessionmaker) == 0


async def test_events_of_enqueue_many_as_first_statement_commit_with_their_transaction(
    sessionmaker: async_sessionmaker[AsyncSession], new_hold_placed: Callable[..., HoldPlaced]
) -> None:
    async with sessionmaker.begin() as session:
        await enqueue_many(session, [new_hold_placed(), new_hold_placed()], source=SOURCE)
        async with sessionmaker() as other:
            seen_before_commit = int(await other.scalar(select(func.count()).select_from(outbox)) or 0)

    assert seen_before_commit == 0
    assert await outbox_rows(sessionmaker) == 2


async def lanes_of(sessionmaker: async_sessionmaker[AsyncSession], events: list[HoldPlaced]) -> list[int]:
    subjects = [event.aggregate_id() for event in events]
    async with sessionmaker() as session:
        rows = await session.execute(
            select(outbox.c.lane).where(outbox.c.ce_subject.in_(subjects)).order_by(outbox.c.id)
        )
        return [row.lane for row in rows]


async def test_an_aggregates_events_added_together_go_in_the_interactive_lane_with_their_transaction(
    sessionmaker: async_sessionmaker[AsyncSession], new_hold_placed: Callable[..., HoldPlaced]
) -> None:
    """A dossier's transition or a plan's steps are interactive even when written together (`add_many`)."""
    events = [new_hold_placed(), new_hold_placed()]
    with pytest.raises(RuntimeError):
        async with sessionmaker.begin() as session:
            await SessionOutbox(session).add_many(events)
            raise RuntimeError("rolled back")
    assert await lanes_of(sessionmaker, events) == []

    async with sessionmaker.begin() as session:
        await SessionOutbox(session).add_many(events)
    assert await lanes_of(sessionmaker, events) == [INTERACTIVE_LANE, INTERACTIVE_LANE]


async def test_a_bulk_outbox_adds_many_in_the_bulk_lane(
    sessionmaker: async_sessionmaker[AsyncSession], new_hold_placed: Callable[..., HoldPlaced]
) -> None:
    events = [new_hold_placed(), new_hold_placed(), new_hold_placed()]
    async with sessionmaker.begin() as session:
        await SessionOutbox(session, bulk=True).add_many(events)
    assert await lanes_of(sessionmaker, events) == [BULK_LANE] * 3
