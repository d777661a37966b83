"""Timers of funding: the élu's acceptance deadline of an incomplete plan (R-DOS-1)."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

from servicekit.jobs import Job, JobKinds
from sqlalchemy.ext.asyncio import AsyncSession

from funding.use_cases import plans as plan_cases
from funding.use_cases.ports import Funding


def job_kinds(funding_for: Callable[[AsyncSession], Funding]) -> JobKinds:
    kinds = JobKinds()

    @kinds.timer(plan_cases.DEADLINE_TIMER)
    async def acceptance_deadline(session: AsyncSession, job: Job) -> None:
        """Runs in one transaction with marking the timer done: the plan fails and releases once."""
        await plan_cases.acceptance_deadline_passed(funding_for(session), UUID(job.params["dossier_id"]))

    return kinds
