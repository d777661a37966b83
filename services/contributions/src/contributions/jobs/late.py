"""The daily sweep marking periods late after their due date (R-CON-3), a servicekit timer that schedules
its next run: 00:05 Paris every day, and once at each start of the service (a sweep is idempotent)."""

from __future__ import annotations

from datetime import datetime, time, timedelta

from dife_contracts.enums import PeriodStatus
from prometheus_client import Gauge
from servicekit.clock import PARIS, Clock
from servicekit.jobs import Job, JobKinds, schedule
from servicekit.outbox import SessionOutbox
from sqlalchemy.ext.asyncio import AsyncSession

from contributions.adapters.repository import ContributionsRepository
from contributions.domain.policy import ContributionPolicy
from contributions.use_cases.late import LateReport, mark_late_periods

LATE_SWEEP = "contributions.late_sweep"
PERIODS_LATE = Gauge(
    "contributions_periods_late",
    "Contribution periods late after their due date, as of the last sweep (R-CON-4)",
)
SWEEP_TIME = time(0, 5)


def next_sweep_after(instant: datetime) -> datetime:
    """The next 00:05 in Paris strictly after `instant`."""
    paris = instant.astimezone(PARIS)
    candidate = datetime.combine(paris.date(), SWEEP_TIME, tzinfo=PARIS)
    if candidate <= paris:
        candidate = datetime.combine(paris.date() + timedelta(days=1), SWEEP_TIME, tzinfo=PARIS)
    return candidate


async def sweep_late_periods(session: AsyncSession, clock: Clock, policy: ContributionPolicy) -> LateReport:
    """One sweep in the caller's transaction: periods past due and unpaid become late, `period_late` once."""
    return await mark_late_periods(
        ContributionsRepository(session),
        SessionOutbox(session, bulk=True),
        today=clock.today(),
        policy=policy,
    )


async def schedule_sweep(session: AsyncSession, run_after: datetime) -> None:
    """(Re)schedule the one pending sweep (one key: scheduling again replaces it)."""
    await schedule(session, LATE_SWEEP, run_after=run_after, key=LATE_SWEEP)


def late_jobs(clock: Clock, policy: ContributionPolicy) -> JobKinds:
    kinds = JobKinds()

    @kinds.timer(LATE_SWEEP, concurrency=1)
    async def sweep(session: AsyncSession, job: Job) -> None:
        await sweep_late_periods(session, clock, policy)
        PERIODS_LATE.set(await ContributionsRepository(session).count_with_status(PeriodStatus.LATE))
        await schedule_sweep(session, next_sweep_after(clock.now()))

    return kinds
