"""The crediting campaign and the expiry run as background jobs (R-ACC-1..4, R-END-1).

A campaign credits ranges of élus, ``workers`` at a time (ranges share no élu), each range in a transaction
of its own; the unique key (élu, year) makes a range run again a no-op.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any
from uuid import UUID

from servicekit.clock import Clock
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rights_ledger.adapters.crediting import CreditingRepository
from rights_ledger.adapters.jobs import JobProgress
from rights_ledger.adapters.outbox import SessionOutbox
from rights_ledger.domain.campaigns import ensure_expiry_not_ahead, plan_campaign
from rights_ledger.domain.parameters import CampaignFamily
from rights_ledger.use_cases.campaigns import campaign_report, credit_range, expire_rights


class CampaignJobs:
    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        chunk_elus: int = 50_000,
        workers: int = 2,
    ) -> None:
        self._sessionmaker = sessionmaker
        self._clock = clock
        self._chunk = chunk_elus
        self._workers = workers

    async def run_campaign(self, job_id: UUID, params: dict[str, Any], progress: JobProgress) -> None:
        """R-ACC-1..4: credit every élu the campaign covers, once for the year."""
        plan = plan_campaign(
            job_id, CampaignFamily(params["family"]), int(params["year"]), self._clock.today()
        )
        async with self._sessionmaker() as session:
            store = CreditingRepository(session)
            total = await store.account_count()
            pending = await store.chunk_bounds(self._chunk)
        await progress.update(rows_total=total, rows_done=0)
        done = 0

        async def worker() -> None:
            nonlocal done
            while pending:
                after, upto = pending.pop(0)
                async with self._sessionmaker.begin() as session:
                    await credit_range(CreditingRepository(session), plan, after, upto, self._clock)
                done = min(total, done + self._chunk)
                await progress.update(rows_done=done)

        await asyncio.gather(*(worker() for _ in range(self._workers)))
        async with self._sessionmaker() as session:
            report = await campaign_report(CreditingRepository(session), plan, total)
        await progress.update(rows_done=done, report=report)

    async def run_expiry(self, job_id: UUID, params: dict[str, Any], progress: JobProgress) -> None:
        """R-END-1: expire, as explicit movements, the balances whose window of use is over."""
        as_of = date.fromisoformat(params["as_of"])
        ensure_expiry_not_ahead(as_of, self._clock.today())
        async with self._sessionmaker.begin() as session:
            report = await expire_rights(
                CreditingRepository(session), SessionOutbox(session), as_of, self._clock
            )
        await progress.update(rows_total=report["expired"], rows_done=report["expired"], report=report)
