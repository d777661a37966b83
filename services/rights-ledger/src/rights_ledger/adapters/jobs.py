"""Long jobs (RNE imports, crediting campaigns, expiry runs): a row each, run in the background after a 202.

One runner per database is active (advisory lock), so a job left ``running`` by a dead process is taken up
again from the start when the runner next becomes active: every job is idempotent (snapshot merge, one credit
per élu and year, expiry of what is still available), so running it again finishes it without doubling.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

import asyncpg
import structlog
from servicekit.leader import become_leader, wait_for_wake
from servicekit.rules import RuleError
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from rights_ledger.adapters.tables import jobs

log = structlog.get_logger(__name__)

RUNNER_LOCK = "dife.rights-ledger.jobs"


@dataclass(frozen=True, slots=True)
class JobView:
    job_id: UUID
    kind: str
    status: str
    params: dict[str, Any]
    rows_done: int
    rows_total: int
    report: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


async def create_job(
    session: AsyncSession,
    *,
    kind: str,
    params: Mapping[str, Any],
    created_by: str,
    payload: bytes | None = None,
) -> JobView:
    job_id = uuid4()
    await session.execute(
        insert(jobs).values(
            job_id=job_id,
            kind=kind,
            status="pending",
            params=dict(params),
            payload=payload,
            rows_done=0,
            rows_total=0,
            report={},
            created_by=created_by,
        )
    )
    found = await get_job(session, job_id, kind)
    assert found is not None
    return found


async def get_job(session: AsyncSession, job_id: UUID, kind: str) -> JobView | None:
    columns = [c for c in jobs.c if c.name not in ("payload", "created_by")]
    row = (
        await session.execute(select(*columns).where(jobs.c.job_id == job_id, jobs.c.kind == kind))
    ).one_or_none()
    if row is None:
        return None
    return JobView(**row._mapping)


class JobProgress:
    """Progress and report of a running job, each update in its own short transaction (visible at once)."""

    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession], job_id: UUID) -> None:
        self._sessionmaker = sessionmaker
        self.job_id = job_id

    async def update(
        self,
        *,
        rows_done: int | None = None,
        rows_total: int | None = None,
        report: Mapping[str, Any] | None = None,
    ) -> None:
        values: dict[str, Any] = {}
        if rows_done is not None:
            values["rows_done"] = rows_done
        if rows_total is not None:
            values["rows_total"] = rows_total
        if report is not None:
            values["report"] = dict(report)
        if values:
            async with self._sessionmaker.begin() as session:
                await session.execute(update(jobs).where(jobs.c.job_id == self.job_id).values(**values))


JobHandler = Callable[[UUID, dict[str, Any], JobProgress], Awaitable[None]]


class JobRunner:
    """Takes pending jobs one at a time, oldest first, and runs the handler of their kind."""

    def __init__(
        self,
        *,
        dsn: str,
        engine: AsyncEngine,
        sessionmaker: async_sessionmaker[AsyncSession],
        handlers: Mapping[str, JobHandler],
        poll_interval_s: float = 0.2,
    ) -> None:
        self._dsn = dsn
        self._engine = engine
        self._sessionmaker = sessionmaker
        self._handlers = dict(handlers)
        self._poll_interval_s = poll_interval_s
        self.wake = asyncio.Event()

    async def run(self) -> None:
        lock_connection: asyncpg.Connection = await asyncpg.connect(self._dsn)
        try:
            await become_leader(lock_connection, RUNNER_LOCK)
            async with self._sessionmaker.begin() as session:
                await session.execute(update(jobs).where(jobs.c.status == "running").values(status="pending"))
            while True:
                ran = await self.run_next()
                if not ran:
                    self.wake.clear()
                    await wait_for_wake(self.wake, self._poll_interval_s)
        finally:
            await lock_connection.close(timeout=2)

    async def run_next(self) -> bool:
        async with self._sessionmaker.begin() as session:
            row = (
                await session.execute(
                    select(jobs.c.job_id, jobs.c.kind, jobs.c.params)
                    .where(jobs.c.status == "pending")
                    .order_by(jobs.c.created_at)
                    .limit(1)
                    .with_for_update(skip_locked=True)
                )
            ).one_or_none()
            if row is None:
                return False
            await session.execute(
                update(jobs)
                .where(jobs.c.job_id == row.job_id)
                .values(status="running", started_at=func.now(), error=None)
            )
        progress = JobProgress(self._sessionmaker, row.job_id)
        bound = log.bind(job_id=str(row.job_id), kind=row.kind)
        try:
            await self._handlers[row.kind](row.job_id, dict(row.params), progress)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            bound.error("job failed", error=repr(error))
            async with self._sessionmaker.begin() as session:
                await session.execute(
                    update(jobs)
                    .where(jobs.c.job_id == row.job_id)
                    .values(status="failed", error=_public_error(error), finished_at=func.now())
                )
            return True
        async with self._sessionmaker.begin() as session:
            await session.execute(
                update(jobs)
                .where(jobs.c.job_id == row.job_id)
                .values(status="succeeded", finished_at=func.now())
            )
        bound.info("job succeeded")
        return True


class JobRejected(Exception):
    """A job's input cannot be processed at all (e.g. an RNE file without a usable header)."""


def _public_error(error: Exception) -> str:
    """What a job's status shows: the reason of a rejected input, never internals."""
    if isinstance(error, JobRejected | RuleError):
        return str(error)
    return f"internal error ({type(error).__name__}); the job can be submitted again"


async def stored_file(session: AsyncSession, job_id: UUID) -> tuple[bytes | None, bool]:
    """The job's uploaded file, and whether its report says it was already applied."""
    row = (await session.execute(select(jobs.c.payload, jobs.c.report).where(jobs.c.job_id == job_id))).one()
    return row.payload, "events" in row.report


async def finish_with_report(
    session: AsyncSession, job_id: UUID, report: Mapping[str, Any], *, rows_done: int
) -> None:
    """Keep the report, drop the file: in the caller's transaction, so the file goes with what it applied."""
    await session.execute(
        update(jobs)
        .where(jobs.c.job_id == job_id)
        .values(payload=None, report=dict(report), rows_done=rows_done)
    )
