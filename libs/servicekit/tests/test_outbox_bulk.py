"""`enqueue_many` writes in the caller's transaction even when it is the transaction's first statement."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from dife_contracts.events import HoldPlaced
from servicekit.outbox import enqueue_many
from servicekit.tables import outbox
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
