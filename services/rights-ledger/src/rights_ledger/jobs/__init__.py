"""Background work of the ledger (servicekit.jobs): thin entry points that own their transactions and call
the use cases. ``job_kinds(settings)`` is what the app runs."""

from __future__ import annotations

from datetime import date
from typing import Any

from servicekit.jobs import JobContext, JobKinds

from rights_ledger.domain.parameters import CampaignFamily
from rights_ledger.domain.snapshot import SnapshotLimits
from rights_ledger.jobs.calendar import schedule_next_campaign, schedule_next_expiry
from rights_ledger.jobs.campaigns import credit_campaign, expire
from rights_ledger.jobs.registry import import_snapshot
from rights_ledger.settings import Settings
from rights_ledger.use_cases import ACCRUAL_CAMPAIGN, EXPIRY_RUN, RNE_IMPORT


def job_kinds(settings: Settings) -> JobKinds:
    """One worker per kind: an import never waits behind a campaign, and two imports (or two campaigns)
    never run at once on one database."""
    kinds = JobKinds()
    limits = SnapshotLimits(settings.import_max_rejected_share, settings.import_max_ended_share)

    @kinds.task(RNE_IMPORT, concurrency=1)
    async def rne_import(ctx: JobContext) -> dict[str, Any]:
        return await import_snapshot(ctx, limits)

    @kinds.task(ACCRUAL_CAMPAIGN, concurrency=1)
    async def accrual_campaign(ctx: JobContext) -> dict[str, Any]:
        family = CampaignFamily(ctx.params["family"])
        report = await credit_campaign(
            ctx.sessionmaker,
            ctx.clock,
            campaign_id=ctx.job_id,
            family=family,
            year=int(ctx.params["year"]),
            chunk_elus=settings.campaign_chunk_elus,
            workers=settings.campaign_workers,
            progress=ctx.progress,
        )
        async with ctx.sessionmaker.begin() as session:
            await schedule_next_campaign(session, family, ctx.clock)
        return report

    @kinds.task(EXPIRY_RUN, concurrency=1)
    async def expiry_run(ctx: JobContext) -> dict[str, Any]:
        as_of = date.fromisoformat(ctx.params["as_of"])
        report = await expire(ctx.sessionmaker, ctx.clock, as_of, ctx.progress)
        async with ctx.sessionmaker.begin() as session:
            await schedule_next_expiry(session, ctx.clock)
        return report

    return kinds
