"""The crediting campaign and the expiry run as background jobs (R-ACC-1..4, R-END-1).

A campaign credits ranges of élus, ``workers`` at a time (ranges share no élu), each range in a transaction
of its own; the unique key (élu, year) makes a range run again a no-op, so a campaign taken up again after a
crash, or posted twice, credits nobody twice.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from datetime import date
from typing import Any, Protocol
from uuid import UUID

from servicekit.clock import Clock
from servicekit.outbox import SessionOutbox
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rights_ledger.adapters.crediting import CreditingRepository
from rights_ledger.domain.campaigns import plan_campaign
from rights_ledger.domain.parameters import CampaignFamily
from rights_ledger.use_cases.campaigns import campaign_report, credit_range, expire_rights


class Progress(Protocol):
    def __call__(self, *, done: int | None = None, total: int | None = None) -> Awaitable[None]: ...


async def _no_progress(*, done: int | None = None, total: int | None = None) -> None:
    return None


async def credit_campaign(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    *,
    campaign_id: UUID,
    family: CampaignFamily,
    year: int,
    chunk_elus: int,
    workers: int,
    progress: Progress = _no_progress,
) -> dict[str, Any]:
    """R-ACC-1..4: credit every élu the campaign covers, once for the year; returns the campaign's report."""
    plan = plan_campaign(campaign_id, family, year, clock.today())
    async with sessionmaker() as session:
        store = CreditingRepository(session)
        total = await store.account_count()
        pending = await store.chunk_bounds(chunk_elus)
    await progress(total=total, done=0)
    done = 0

    async def worker() -> None:
        nonlocal done
        while pending:
            after, upto = pending.pop(0)
            async with sessionmaker.begin() as session:
                await credit_range(CreditingRepository(session), plan, after, upto, clock)
            done = min(total, done + chunk_elus)
            await progress(done=done)

    await asyncio.gather(*(worker() for _ in range(workers)))
    # The workers' progress writes may commit out of order (6 after 7): the last word is the final count.
    await progress(done=done)
    async with sessionmaker() as session:
        return await campaign_report(CreditingRepository(session), plan, total)


async def expire(
    sessionmaker: async_sessionmaker[AsyncSession],
    clock: Clock,
    as_of: date,
    progress: Progress = _no_progress,
) -> dict[str, Any]:
    """R-END-1: expire, as explicit movements, the balances whose window of use is over (one transaction)."""
    async with sessionmaker.begin() as session:
        report = await expire_rights(
            CreditingRepository(session), SessionOutbox(session, bulk=True), as_of, clock
        )
    await progress(total=report["expired"], done=report["expired"])
    return report
