"""servicekit.jobs on the real PostgreSQL: tasks, timers, restarts, per-kind workers, payload deletion."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from prometheus_client import generate_latest
from servicekit.clock import MovableClock
from servicekit.db import plain_url
from servicekit.jobs import (
    JOBS_NOTIFY_CHANNEL,
    Job,
    JobContext,
    JobKinds,
    JobRejected,
    JobRunner,
    cancel_scheduled,
    get_job,
    job_notice,
    schedule,
)
from servicekit.rules import RuleBroken
from servicekit.tables import kit_jobs
from sqlalchemy import text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

T0 = datetime(2027, 3, 26, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> MovableClock:
    return MovableClock(T0)


def runner_for(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], kinds: JobKinds, clock: MovableClock
) -> JobRunner:
    return JobRunner(
        dsn=plain_url(sample_db),
        sessionmaker=sessionmaker,
        kinds=kinds,
        service_name=f"test-{uuid.uuid4().hex[:6]}",
        clock=clock,
        poll_interval_s=0.05,
    )


@contextlib.asynccontextmanager
async def running(runner: JobRunner) -> AsyncIterator[None]:
    task = asyncio.create_task(runner.run())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def wait_status(sessionmaker: async_sessionmaker[AsyncSession], job_id: uuid.UUID, status: str) -> Job:
    async with asyncio.timeout(10):
        while True:
            async with sessionmaker() as session:
                job = await get_job(session, job_id)
            assert job is not None
            if job.status == status:
                return job
            await asyncio.sleep(0.05)


async def effects(sessionmaker: async_sessionmaker[AsyncSession], name: str) -> int:
    async with sessionmaker() as session:
        count = await session.scalar(text("SELECT count(*) FROM things WHERE name = :n"), {"n": name})
    return int(count or 0)


def record_thing(kinds: JobKinds, kind: str) -> None:
    @kinds.timer(kind)
    async def _(session: AsyncSession, job: Job) -> None:
        await session.execute(
            text("INSERT INTO things (id, name) VALUES (:id, :name)"),
            {"id": uuid.uuid4(), "name": job.params["name"]},
        )


async def test_a_job_left_running_by_a_dead_process_runs_again_after_restart(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], clock: MovableClock
) -> None:
    kinds = JobKinds()
    runs: list[uuid.UUID] = []

    @kinds.task("import")
    async def _(ctx: JobContext) -> dict[str, Any]:
        runs.append(ctx.job_id)
        await ctx.progress(done=3, total=3)
        return {"rows": 3}

    async with sessionmaker.begin() as session:
        job_id = await schedule(session, "import", run_after=clock.now(), params={"file": "x"})
        # the process that took it died mid-way: it stays "running" with nobody working on it
        await session.execute(update(kit_jobs).where(kit_jobs.c.job_id == job_id).values(status="running"))

    async with running(runner_for(sample_db, sessionmaker, kinds, clock)):
        job = await wait_status(sessionmaker, job_id, "succeeded")
    assert runs == [job_id]
    assert job.report == {"rows": 3}
    assert (job.rows_done, job.rows_total) == (3, 3)
    exported = generate_latest().decode()
    assert 'dife_job_rows_done{kind="import",service="test-' in exported


async def test_a_timer_due_while_the_service_was_down_fires_once_after_restart(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], clock: MovableClock
) -> None:
    kinds = JobKinds()
    record_thing(kinds, "dossier.answer_deadline")
    async with sessionmaker.begin() as session:
        await schedule(
            session,
            "dossier.answer_deadline",
            run_after=T0 + timedelta(days=3),
            params={"name": "expired-once"},
            key="dossier:1:answer",
        )
    first = runner_for(sample_db, sessionmaker, kinds, clock)
    assert await first.run_due() == 0, "not due yet"
    assert await effects(sessionmaker, "expired-once") == 0

    clock.advance(timedelta(days=5))  # the service was down over the deadline
    restarted = runner_for(sample_db, sessionmaker, kinds, clock)
    assert await restarted.run_due() == 1
    assert await restarted.run_due() == 0
    assert await effects(sessionmaker, "expired-once") == 1


async def test_a_short_timer_fires_while_a_long_task_of_another_kind_runs(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], clock: MovableClock
) -> None:
    kinds = JobKinds()
    release_the_long_job = asyncio.Event()

    @kinds.task("long_import")
    async def _(ctx: JobContext) -> None:
        await release_the_long_job.wait()

    record_thing(kinds, "short")
    async with sessionmaker.begin() as session:
        long_id = await schedule(session, "long_import", run_after=clock.now())
    async with running(runner_for(sample_db, sessionmaker, kinds, clock)):
        await wait_status(sessionmaker, long_id, "running")
        async with sessionmaker.begin() as session:
            short_id = await schedule(session, "short", run_after=clock.now(), params={"name": "quick"})
        await wait_status(sessionmaker, short_id, "succeeded")
        async with sessionmaker() as session:
            still = await get_job(session, long_id)
        assert still is not None and still.status == "running"
        release_the_long_job.set()
        await wait_status(sessionmaker, long_id, "succeeded")


async def test_a_timer_that_becomes_due_while_the_runner_idles_is_found_by_its_scout(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], clock: MovableClock
) -> None:
    """Idle workers wait for a wake: the NOTIFY of `schedule` came when the timer was not due yet, so only the
    runner's periodic scout query can notice that the (moved) clock made it due."""
    kinds = JobKinds()
    record_thing(kinds, "later")
    record_thing(kinds, "other_kind")
    async with sessionmaker.begin() as session:
        later_id = await schedule(
            session, "later", run_after=T0 + timedelta(hours=1), params={"name": "after-an-hour"}
        )
    runner = runner_for(sample_db, sessionmaker, kinds, clock)
    async with running(runner):
        async with sessionmaker.begin() as session:
            now_id = await schedule(session, "other_kind", run_after=clock.now(), params={"name": "now"})
        await wait_status(sessionmaker, now_id, "succeeded")
        async with sessionmaker() as session:
            pending = await get_job(session, later_id)
        assert pending is not None and pending.status == "pending"
        clock.advance(timedelta(hours=1))  # no wake(): the scout must see it
        await wait_status(sessionmaker, later_id, "succeeded")
    assert await effects(sessionmaker, "after-an-hour") == 1


async def test_schedule_notifies_at_commit_with_the_kind_and_when_it_is_due(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    listener = await asyncpg.connect(plain_url(sample_db))
    notices: asyncio.Queue[str] = asyncio.Queue()
    await listener.add_listener(JOBS_NOTIFY_CHANNEL, lambda *args: notices.put_nowait(args[3]))
    try:
        async with sessionmaker.begin() as session:
            job_id = await schedule(session, "later", run_after=T0 + timedelta(hours=1), params={"name": "n"})
            assert notices.empty(), "a NOTIFY is delivered at commit, not before"
        notice = await asyncio.wait_for(notices.get(), timeout=30)
    finally:
        await listener.close()
    assert (
        notice
        == job_notice("later", T0 + timedelta(hours=1))
        == f"later {(T0 + timedelta(hours=1)).isoformat()}"
    )
    async with sessionmaker() as session:
        job = await get_job(session, job_id)
    assert job is not None and (job.kind, job.status) == ("later", "pending")


def test_a_notice_wakes_its_kind_only_once_the_job_is_due_by_the_runners_clock(
    sessionmaker: async_sessionmaker[AsyncSession], clock: MovableClock
) -> None:
    """A job due later is left to the scout: waking the workers now would cost them an empty claim."""
    kinds = JobKinds()
    record_thing(kinds, "later")
    runner = runner_for("postgresql://unused", sessionmaker, kinds, clock)
    woken = asyncio.Event()
    runner._wakes.append(("later", woken))

    runner.on_notice(job_notice("later", clock.now() + timedelta(microseconds=1)))
    assert not woken.is_set()
    runner.on_notice(job_notice("later", clock.now()))  # the instant itself is due
    assert woken.is_set()
    woken.clear()
    runner.on_notice("something else")
    assert woken.is_set(), "a notice that is not ours wakes every kind"


async def test_scheduling_a_key_again_replaces_the_pending_timer_and_cancel_drops_it(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], clock: MovableClock
) -> None:
    kinds = JobKinds()
    record_thing(kinds, "deadline")
    async with sessionmaker.begin() as session:
        await schedule(session, "deadline", run_after=T0, params={"name": "first"}, key="d:1")
        await schedule(session, "deadline", run_after=T0, params={"name": "second"}, key="d:1")
        await schedule(session, "deadline", run_after=T0, params={"name": "other"}, key="d:2")
        assert await cancel_scheduled(session, "d:2") == 1
        assert await cancel_scheduled(session, "d:2") == 0
    assert await runner_for(sample_db, sessionmaker, kinds, clock).run_due() == 1
    assert [await effects(sessionmaker, n) for n in ("first", "second", "other")] == [0, 1, 0]


async def test_a_timer_whose_rule_refuses_is_failed_and_its_partial_effect_rolled_back(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], clock: MovableClock
) -> None:
    kinds = JobKinds()

    @kinds.timer("refusing")
    async def _(session: AsyncSession, job: Job) -> None:
        await session.execute(
            text("INSERT INTO things (id, name) VALUES (:id, 'partial')"), {"id": uuid.uuid4()}
        )
        raise RuleBroken("R-DOS-1", "the dossier moved on")

    async with sessionmaker.begin() as session:
        job_id = await schedule(session, "refusing", run_after=T0)
    assert await runner_for(sample_db, sessionmaker, kinds, clock).run_due() == 1
    async with sessionmaker() as session:
        job = await get_job(session, job_id)
    assert job is not None and job.status == "failed"
    assert job.error is not None and "R-DOS-1" in job.error
    assert await effects(sessionmaker, "partial") == 0


async def test_the_uploaded_file_is_deleted_once_the_job_has_its_report(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], clock: MovableClock
) -> None:
    kinds = JobKinds()
    seen: list[bytes | None] = []

    @kinds.task("upload_ok")
    async def ok(ctx: JobContext) -> dict[str, int]:
        seen.append(ctx.payload)
        return {"lines": 1}

    @kinds.task("upload_bad")
    async def bad(ctx: JobContext) -> None:
        raise JobRejected("no usable header")

    async with sessionmaker.begin() as session:
        ok_id = await schedule(session, "upload_ok", run_after=T0, payload=b"nom;prenom\n")
        bad_id = await schedule(session, "upload_bad", run_after=T0, payload=b"garbage")
    assert await runner_for(sample_db, sessionmaker, kinds, clock).run_due() == 2
    assert seen == [b"nom;prenom\n"]
    async with sessionmaker() as session:
        left = (await session.execute(text("SELECT job_id, payload, status, error FROM kit_jobs"))).all()
    by_id = {row.job_id: row for row in left}
    assert by_id[ok_id].payload is None and by_id[ok_id].status == "succeeded"
    assert by_id[bad_id].payload is None and by_id[bad_id].status == "failed"
    assert by_id[bad_id].error == "no usable header"


async def test_an_unexpected_task_error_shows_no_internals(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], clock: MovableClock
) -> None:
    kinds = JobKinds()

    @kinds.task("buggy")
    async def _(ctx: JobContext) -> None:
        raise KeyError("secret column name")

    async with sessionmaker.begin() as session:
        job_id = await schedule(session, "buggy", run_after=T0)
    await runner_for(sample_db, sessionmaker, kinds, clock).run_due()
    async with sessionmaker() as session:
        job = await get_job(session, job_id)
    assert job is not None and job.status == "failed"
    assert job.error is not None and "secret" not in job.error and "KeyError" in job.error


async def test_a_naive_run_after_is_refused(sessionmaker: async_sessionmaker[AsyncSession]) -> None:
    async with sessionmaker.begin() as session:
        with pytest.raises(ValueError):
            await schedule(session, "x", run_after=datetime(2027, 1, 1, 12, 0))
