"""The daily sweep marking periods late after their due date (R-CON-3)."""

from __future__ import annotations

from servicekit.clock import Clock
from sqlalchemy.ext.asyncio import AsyncSession

from contributions.adapters.outbox import SessionOutbox
from contributions.adapters.repository import ContributionsRepository
from contributions.domain.policy import ContributionPolicy
from contributions.use_cases.late import LateReport, mark_late_periods


async def sweep_late_periods(session: AsyncSession, clock: Clock, policy: ContributionPolicy) -> LateReport:
    """One sweep in the caller's transaction: periods past due and unpaid become late, `period_late` once."""
    return await mark_late_periods(
        ContributionsRepository(session), SessionOutbox(session), today=clock.today(), policy=policy
    )
