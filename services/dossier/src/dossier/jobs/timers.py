"""R-DOS-1 expiry and R-DOS-4 automatic validation, fired once by servicekit's job runner.

A timer runs in ONE transaction with marking its job done, so its effect happens exactly once; a timer whose
deadline passed while the service was down fires at the next start. The use case re-checks the rule, so a
timer outlived by its status does nothing.
"""

from __future__ import annotations

from uuid import UUID

from servicekit.clock import Clock
from servicekit.jobs import Job, JobKinds, SessionScheduler
from servicekit.outbox import SessionOutbox
from sqlalchemy.ext.asyncio import AsyncSession

from dossier.adapters.repository import SqlRepository
from dossier.use_cases import dossiers as uc
from dossier.use_cases.ports import Context
from dossier.use_cases.timers import AUTO_VALIDATION, EXPIRY


def job_kinds(clock: Clock) -> JobKinds:
    kinds = JobKinds()

    def context(session: AsyncSession) -> Context:
        return Context(SqlRepository(session), SessionOutbox(session), SessionScheduler(session), clock)

    @kinds.timer(EXPIRY)
    async def _expire(session: AsyncSession, job: Job) -> None:
        await uc.expire_if_due(context(session), UUID(job.params["dossier_id"]))

    @kinds.timer(AUTO_VALIDATION)
    async def _auto_validate(session: AsyncSession, job: Job) -> None:
        await uc.auto_validate_if_due(context(session), UUID(job.params["dossier_id"]))

    return kinds
