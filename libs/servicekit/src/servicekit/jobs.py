"""Background jobs and timers of a service, persisted in its own database (`kit_jobs`).

Two kinds of work share one table and one runner:

- **tasks**: long work started by a request (an RNE import, a crediting campaign, a SEPA batch). The handler
  gets a `JobContext`, opens its own transactions, reports progress; what it returns is the job's report.
  Every task handler must be idempotent: a job left `running` by a dead process runs again from the start.
- **timers**: a deadline for one aggregate ("expire dossier X at the end of its 2nd working day"). The handler
  runs in ONE transaction with the job's completion, so its effect happens exactly once. A timer has a `key`;
  scheduling a key again replaces the pending one, `cancel_scheduled(session, key)` drops it when the
  aggregate moves on.

Due-ness is decided with the service `Clock`, not the database's: a test moves a `MovableClock` and calls
`JobRunner.run_due()` to fire what is due, without sleeping. One runner is active per database (an advisory
lock); each kind has its own workers (`concurrency`), so a ten-minute import never holds a 50 ms timer
behind it.
Uploaded files (`payload`) are deleted as soon as the job has its report or its error.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal, Protocol
from uuid import UUID, uuid4

import asyncpg
import structlog
from sqlalchemy import and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit import metrics
from servicekit.clock import Clock, SystemClock
from servicekit.db import transaction_driver
from servicekit.leader import become_leader, wait_for_wake
from servicekit.rules import RuleError
from servicekit.tables import kit_jobs

log = structlog.get_logger(__name__)

JOBS_NOTIFY_CHANNEL = "dife_jobs"
JobStatus = Literal["pending", "running", "succeeded", "failed", "cancelled"]
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True, slots=True)
class Job:
    """One job as stored (the uploaded payload is never part of it: `JobContext.payload` reads it)."""

    job_id: UUID
    kind: str
    status: str
    key: str | None
    run_after: datetime
    params: dict[str, Any]
    rows_done: int
    rows_total: int
    report: dict[str, Any]
    error: str | None
    attempts: int
    created_by: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


_JOB_COLUMNS = [column for column in kit_jobs.c if column.name != "payload"]


class JobRejected(Exception):
    """A task's input cannot be processed at all (a file without a usable header…): its message is public."""


@dataclass
class JobContext:
    """What a task handler gets: its parameters, its uploaded file, the database, the clock and progress."""

    job: Job
    sessionmaker: async_sessionmaker[AsyncSession]
    clock: Clock
    _payload: bytes | None = None
    service: str = ""

    @property
    def job_id(self) -> UUID:
        return self.job.job_id

    @property
    def params(self) -> dict[str, Any]:
        return self.job.params

    @property
    def payload(self) -> bytes | None:
        return self._payload

    async def progress(
        self, *, done: int | None = None, total: int | None = None, report: Mapping[str, Any] | None = None
    ) -> None:
        """Record progress in its own short transaction, so that `GET …/{id}` shows it at once."""
        values: dict[str, Any] = {}
        if done is not None:
            values["rows_done"] = done
            metrics.JOB_ROWS_DONE.labels(self.service, self.job.kind).set(done)
        if total is not None:
            values["rows_total"] = total
            metrics.JOB_ROWS_TOTAL.labels(self.service, self.job.kind).set(total)
        if report is not None:
            values["report"] = dict(report)
        if values:
            async with self.sessionmaker.begin() as session:
                await session.execute(
                    update(kit_jobs).where(kit_jobs.c.job_id == self.job_id).values(**values)
                )


TaskHandler = Callable[[JobContext], Awaitable[Mapping[str, Any] | None]]
TimerHandler = Callable[[AsyncSession, Job], Awaitable[None]]


@dataclass(frozen=True)
class JobKind:
    name: str
    concurrency: int
    task: TaskHandler | None = None
    timer: TimerHandler | None = None
    max_attempts: int = 5


@dataclass
class JobKinds:
    """The registry of a service's job kinds: ``kinds = JobKinds()``, then decorate the handlers."""

    kinds: dict[str, JobKind] = field(default_factory=dict)

    def task(self, name: str, *, concurrency: int = 1) -> Callable[[TaskHandler], TaskHandler]:
        def register(handler: TaskHandler) -> TaskHandler:
            self._add(JobKind(name, concurrency, task=handler))
            return handler

        return register

    def timer(
        self, name: str, *, concurrency: int = 2, max_attempts: int = 5
    ) -> Callable[[TimerHandler], TimerHandler]:
        def register(handler: TimerHandler) -> TimerHandler:
            self._add(JobKind(name, concurrency, timer=handler, max_attempts=max_attempts))
            return handler

        return register

    def _add(self, kind: JobKind) -> None:
        if kind.name in self.kinds:
            raise ValueError(f"job kind {kind.name!r} is already registered")
        if kind.concurrency < 1:
            raise ValueError("concurrency must be >= 1")
        self.kinds[kind.name] = kind

    def __contains__(self, name: object) -> bool:
        return name in self.kinds


# --- scheduling, in the caller's transaction ----------------------------------------------------------------


async def schedule(
    session: AsyncSession,
    kind: str,
    *,
    run_after: datetime,
    params: Mapping[str, Any] | None = None,
    key: str | None = None,
    payload: bytes | None = None,
    created_by: str | None = None,
) -> UUID:
    """Add a job to run at or after `run_after`; a pending job with the same `key` is replaced."""
    if run_after.tzinfo is None:
        raise ValueError("run_after must be timezone-aware")
    if key is not None:
        await cancel_scheduled(session, key)
    job_id = uuid4()
    # One statement: the job and its NOTIFY, delivered at commit (the runner wakes only for jobs that exist).
    # On the driver: every dossier transition sets or moves a timer, in the caller's transaction.
    driver = await transaction_driver(session)
    await driver.execute(
        _SCHEDULE_SQL,
        job_id,
        kind,
        key,
        run_after,
        json.dumps(dict(params or {})),
        payload,
        created_by,
        JOBS_NOTIFY_CHANNEL,
        job_notice(kind, run_after),
    )
    return job_id


_SCHEDULE_SQL = """
    WITH added AS (
        INSERT INTO kit_jobs (job_id, kind, status, key, run_after, params, payload, created_by)
        VALUES ($1, $2, 'pending', $3, $4, $5::text::jsonb, $6, $7)
        RETURNING job_id
    )
    SELECT pg_notify($8, $9) FROM added
"""
_CANCEL_SQL = (
    "UPDATE kit_jobs SET status = 'cancelled', finished_at = now() WHERE key = $1 AND status = 'pending'"
)


def job_notice(kind: str, run_after: datetime) -> str:
    """The NOTIFY payload of a scheduled job: its kind and when it is due (`JobRunner.on_notice`)."""
    return f"{kind} {run_after.isoformat()}"


def _due_of_notice(due_text: str) -> datetime | None:
    """When a `job_notice` says its job is due; None for a payload that is not one (wake and look anyway)."""
    try:
        return datetime.fromisoformat(due_text) if due_text else None
    except ValueError:
        return None


async def cancel_scheduled(session: AsyncSession, key: str) -> int:
    """Cancel the pending job of `key` (the aggregate moved on); returns how many were cancelled (0 or 1)."""
    driver = await transaction_driver(session)
    status: str = await driver.execute(_CANCEL_SQL, key)  # "UPDATE <rows>"
    return int(status.rsplit(" ", 1)[-1])


async def get_job(session: AsyncSession, job_id: UUID, *, kind: str | None = None) -> Job | None:
    query = select(*_JOB_COLUMNS).where(kit_jobs.c.job_id == job_id)
    if kind is not None:
        query = query.where(kit_jobs.c.kind == kind)
    row = (await session.execute(query)).one_or_none()
    return None if row is None else Job(**row._mapping)


async def list_jobs(
    session: AsyncSession,
    *,
    kind: str | None = None,
    status: str | None = None,
    before: tuple[datetime, UUID] | None = None,
    limit: int = 50,
) -> list[Job]:
    """Newest first, keyset-paged on (created_at, job_id); `limit + 1` rows say whether more exist."""
    query = select(*_JOB_COLUMNS).order_by(kit_jobs.c.created_at.desc(), kit_jobs.c.job_id.desc())
    if kind is not None:
        query = query.where(kit_jobs.c.kind == kind)
    if status is not None:
        query = query.where(kit_jobs.c.status == status)
    if before is not None:
        query = query.where(
            func.row(kit_jobs.c.created_at, kit_jobs.c.job_id) < func.row(before[0], before[1])
        )
    rows = (await session.execute(query.limit(limit + 1))).all()
    return [Job(**row._mapping) for row in rows]


class Scheduler(Protocol):
    """What a use case needs to set and cancel timers (`SessionScheduler` real, `FakeScheduler` in tests)."""

    async def schedule(
        self,
        kind: str,
        *,
        run_after: datetime,
        params: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> UUID: ...

    async def cancel(self, key: str) -> int: ...


class SessionScheduler:
    """`Scheduler` writing to `kit_jobs` in the session's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def schedule(
        self,
        kind: str,
        *,
        run_after: datetime,
        params: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> UUID:
        return await schedule(self._session, kind, run_after=run_after, params=params, key=key)

    async def cancel(self, key: str) -> int:
        return await cancel_scheduled(self._session, key)


# --- running ---------------------------------------------------------------------------------------------


def public_error(error: BaseException) -> str:
    """What a job's status shows: the reason of a rejected input or a broken rule, never internals."""
    if isinstance(error, JobRejected | RuleError):
        return str(error)
    return f"internal error ({type(error).__name__}); the job can be submitted again"


_DUE_KINDS_SQL = """
SELECT wanted.kind FROM unnest($1::text[]) AS wanted(kind)
WHERE EXISTS (
    SELECT 1 FROM kit_jobs j WHERE j.kind = wanted.kind AND j.status = 'pending' AND j.run_after <= $2
)
"""
"""The kinds with a due job: one probe of the `kit_jobs_due` index per kind."""


class JobRunner:
    """Runs due jobs of every registered kind, each kind with its own bounded set of workers."""

    def __init__(
        self,
        *,
        dsn: str,
        sessionmaker: async_sessionmaker[AsyncSession],
        kinds: JobKinds,
        service_name: str,
        clock: Clock | None = None,
        poll_interval_s: float = 1.0,
        retry_delay: timedelta = timedelta(seconds=30),
    ) -> None:
        self._dsn = dsn
        self._sessionmaker = sessionmaker
        self._kinds = kinds
        self._lock_name = f"dife.{service_name}.jobs"
        self._service = service_name
        self.clock: Clock = clock or SystemClock()
        self._poll_interval_s = poll_interval_s
        self._retry_delay = retry_delay
        self._wakes: list[tuple[str, asyncio.Event]] = []
        # A worker's own look when neither a NOTIFY nor the scout woke it: a safety net, not the mechanism.
        self._idle_timeout_s = max(30 * poll_interval_s, 30.0)

    def wake(self, kind: str | None = None) -> None:
        """Make the workers of `kind` (of every kind when None) look for due jobs now (after a commit that
        added one, or a move of the test clock)."""
        for wanted, event in self._wakes:
            if kind is None or wanted == kind:
                event.set()

    async def run(self) -> None:
        """Become the database's one active runner, take back jobs left running, then work until cancelled.

        Idle workers do not poll: they wait for a wake. A job scheduled for now wakes its kind through the
        NOTIFY that `schedule` sends; a job that becomes due later (a timer) is found by ONE scout query for
        every kind each `poll_interval_s`, on the runner's own connection (one round trip, no transaction),
        instead of one claiming transaction per worker and per poll (issue 17: most of an idle service's CPU).
        """
        if not self._kinds.kinds:
            return
        connection: asyncpg.Connection = await asyncpg.connect(self._dsn)
        try:
            await become_leader(connection, self._lock_name)
            await connection.add_listener(JOBS_NOTIFY_CHANNEL, self._on_notify)
            async with self._sessionmaker.begin() as session:
                await session.execute(
                    update(kit_jobs).where(kit_jobs.c.status == "running").values(status="pending")
                )
            async with asyncio.TaskGroup() as group:
                for kind in self._kinds.kinds.values():
                    for number in range(kind.concurrency):
                        wake = asyncio.Event()
                        wake.set()  # a first look: jobs may already be due
                        self._wakes.append((kind.name, wake))
                        group.create_task(self._work(kind, wake), name=f"jobs {kind.name} #{number}")
                group.create_task(self._scout(connection), name="jobs scout")
        finally:
            with contextlib.suppress(Exception):
                await connection.close(timeout=2)

    def _on_notify(self, _connection: object, _pid: int, _channel: str, payload: str) -> None:
        self.on_notice(payload)

    def on_notice(self, payload: str) -> None:
        """A job was scheduled (`job_notice`): wake its kind if it is due by the runner's clock. A job due
        later is left to the scout, which finds it when it comes due: waking the workers now would only
        cost them an empty claim."""
        kind, _, due_text = payload.partition(" ")
        due = _due_of_notice(due_text)
        if due is not None and due > self.clock.now():
            return
        self.wake(kind if kind in self._kinds.kinds else None)

    async def _scout(self, connection: asyncpg.Connection) -> None:
        """Every `poll_interval_s`, wake the workers of each kind that has a due job."""
        names = list(self._kinds.kinds)
        while True:
            await asyncio.sleep(self._poll_interval_s)
            try:
                due = await connection.fetch(_DUE_KINDS_SQL, names, self.clock.now())
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database went away: the workers' own retries cover it
                log.warning("job scout could not look for due jobs", error=repr(error))
                self.wake()
                continue
            for row in due:
                self.wake(row["kind"])

    async def _work(self, kind: JobKind, wake: asyncio.Event) -> None:
        while True:
            wake.clear()  # cleared before looking, so a wake arriving during the look is not missed
            try:
                ran = await self.run_next(kind.name)
            except asyncio.CancelledError:
                raise
            except Exception as error:  # the database went away: wait and try again
                log.warning("job worker could not claim a job", kind=kind.name, error=repr(error))
                ran = False
            if not ran:
                await wait_for_wake(wake, self._idle_timeout_s)

    async def run_due(self, kinds: Sequence[str] | None = None) -> int:
        """Run every job due now, one after the other, in the caller's task; returns how many ran (tests)."""
        count = 0
        names = list(kinds or self._kinds.kinds)
        progressed = True
        while progressed:
            progressed = False
            for name in names:
                while await self.run_next(name):
                    count += 1
                    progressed = True
        return count

    async def run_next(self, kind_name: str) -> bool:
        """Claim and run the oldest due job of one kind; False when none is due."""
        kind = self._kinds.kinds[kind_name]
        if kind.timer is not None:
            return await self._run_timer(kind)
        return await self._run_task(kind)

    def _due(self, kind: str) -> Any:
        return (
            select(*_JOB_COLUMNS)
            .where(
                and_(
                    kit_jobs.c.kind == kind,
                    kit_jobs.c.status == "pending",
                    kit_jobs.c.run_after <= self.clock.now(),
                )
            )
            .order_by(kit_jobs.c.run_after, kit_jobs.c.created_at)
            .limit(1)
            .with_for_update(skip_locked=True)
        )

    async def _run_timer(self, kind: JobKind) -> bool:
        assert kind.timer is not None
        failure: BaseException | None = None
        async with self._sessionmaker() as session, session.begin():
            row = (await session.execute(self._due(kind.name))).one_or_none()
            if row is None:
                return False
            job = Job(**row._mapping)
            try:
                async with session.begin_nested():
                    await kind.timer(session, job)
            except asyncio.CancelledError:
                raise
            except Exception as error:
                failure = error
            await self._finish_timer(session, job, kind, failure)
        return True

    async def _finish_timer(
        self, session: AsyncSession, job: Job, kind: JobKind, failure: BaseException | None
    ) -> None:
        bound = log.bind(job_id=str(job.job_id), kind=job.kind)
        if failure is None:
            values: dict[str, Any] = {
                "status": "succeeded",
                "finished_at": func.now(),
                "started_at": func.now(),
            }
            bound.info("timer fired")
        elif isinstance(failure, RuleError) or job.attempts + 1 >= kind.max_attempts:
            values = {"status": "failed", "error": public_error(failure), "finished_at": func.now()}
            bound.error("timer failed", error=repr(failure))
        else:
            values = {
                "run_after": self.clock.now() + self._retry_delay * (job.attempts + 1),
                "error": public_error(failure),
            }
            bound.warning("timer failed; will retry", error=repr(failure), attempt=job.attempts + 1)
        values["attempts"] = job.attempts + 1
        await session.execute(update(kit_jobs).where(kit_jobs.c.job_id == job.job_id).values(**values))

    async def _run_task(self, kind: JobKind) -> bool:
        assert kind.task is not None
        async with self._sessionmaker.begin() as session:
            row = (await session.execute(self._due(kind.name))).one_or_none()
            if row is None:
                return False
            job = Job(**row._mapping)
            payload = await session.scalar(select(kit_jobs.c.payload).where(kit_jobs.c.job_id == job.job_id))
            await session.execute(
                update(kit_jobs)
                .where(kit_jobs.c.job_id == job.job_id)
                .values(status="running", started_at=func.now(), error=None, attempts=job.attempts + 1)
            )
        bound = log.bind(job_id=str(job.job_id), kind=job.kind)
        context = JobContext(
            job=job,
            sessionmaker=self._sessionmaker,
            clock=self.clock,
            _payload=payload,
            service=self._service,
        )
        try:
            report = await kind.task(context)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            bound.error("job failed", error=repr(error))
            await self._close(job.job_id, status="failed", error=public_error(error))
            return True
        await self._close(job.job_id, status="succeeded", report=report)
        bound.info("job succeeded")
        return True

    async def _close(
        self, job_id: UUID, *, status: str, error: str | None = None, report: Mapping[str, Any] | None = None
    ) -> None:
        """Final status, and the uploaded file deleted: once a job has its report, only the report stays."""
        values: dict[str, Any] = {
            "status": status,
            "finished_at": func.now(),
            "payload": None,
            "error": error,
        }
        if report is not None:
            values["report"] = dict(report)
        async with self._sessionmaker.begin() as session:
            await session.execute(update(kit_jobs).where(kit_jobs.c.job_id == job_id).values(**values))
