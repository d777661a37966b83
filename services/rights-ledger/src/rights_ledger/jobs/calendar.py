"""The ledger runs its own calendar (R-ACC-3, R-END-1): each crediting campaign on its date, the expiry every
day. Each is a `servicekit.jobs` job with a key, so scheduling it again (at every start, after every run)
replaces the pending one instead of adding another; running a campaign or an expiry again is a no-op anyway.
The manual endpoints stay for re-runs and catch-up."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from servicekit.clock import PARIS, Clock, end_of_paris_day
from servicekit.jobs import schedule
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rights_ledger.domain.campaigns import next_campaign_year
from rights_ledger.domain.parameters import CampaignFamily, campaign_date
from rights_ledger.use_cases import ACCRUAL_CAMPAIGN, EXPIRY_RUN

DAILY_EXPIRY_KEY = "expiry daily"


async def schedule_next_campaign(session: AsyncSession, family: CampaignFamily, clock: Clock) -> None:
    """The family's next campaign, at the start of its date in Paris."""
    year = next_campaign_year(family, clock.today())
    on = campaign_date(family, year)
    await schedule(
        session,
        ACCRUAL_CAMPAIGN,
        run_after=datetime.combine(on, time.min, tzinfo=PARIS),
        params={"family": family.value, "year": year},
        key=f"campaign {family.value}",
        created_by="calendar",
    )


async def schedule_next_expiry(session: AsyncSession, clock: Clock) -> None:
    """Tomorrow's expiry run (Paris), as of tomorrow."""
    tomorrow = clock.today() + timedelta(days=1)
    await schedule(
        session,
        EXPIRY_RUN,
        run_after=end_of_paris_day(clock.today()),
        params={"as_of": tomorrow.isoformat()},
        key=DAILY_EXPIRY_KEY,
        created_by="calendar",
    )


async def ensure_calendar(sessionmaker: async_sessionmaker[AsyncSession], clock: Clock) -> None:
    """At start: the next campaign of each family and tomorrow's expiry are pending (once each)."""
    async with sessionmaker.begin() as session:
        for family in CampaignFamily:
            await schedule_next_campaign(session, family, clock)
        await schedule_next_expiry(session, clock)
