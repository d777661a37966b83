"""Wiring of the rights-ledger: ``create_app(settings, clock=...)``; ``create_app_from_env()`` for uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from servicekit.app import create_service_app
from servicekit.clock import Clock, SystemClock
from servicekit.db import plain_url
from servicekit.errors import Conflict as ConflictProblem
from servicekit.errors import DomainError, ProblemResponse, RuleViolation
from servicekit.errors import NotFound as NotFoundProblem
from servicekit.errors import RuleBroken as RuleBrokenOut
from servicekit.rules import Conflict, InvalidTransition, NotFound, RuleBroken, RuleError, RulesBroken
from servicekit.state import KitState, kit_state

from rights_ledger.adapters.jobs import JobRunner
from rights_ledger.adapters.reads import AccountReader
from rights_ledger.api.routes import ROUTERS
from rights_ledger.api.state import LedgerState
from rights_ledger.consumers import consumer_specs
from rights_ledger.jobs.campaigns import CampaignJobs
from rights_ledger.jobs.registry import ImportJob
from rights_ledger.settings import Settings


@asynccontextmanager
async def _job_runner(state: KitState, ledger: LedgerState) -> AsyncIterator[None]:
    """The background runner of imports, campaigns and expiry runs (one active per database)."""
    settings = ledger.settings
    if not settings.jobs_enabled:
        yield
        return
    campaigns = CampaignJobs(
        state.sessionmaker,
        ledger.clock,
        chunk_elus=settings.campaign_chunk_elus,
        workers=settings.campaign_workers,
    )
    runner = JobRunner(
        dsn=plain_url(settings.database_url),
        engine=state.engine,
        sessionmaker=state.sessionmaker,
        handlers={
            "rne_import": ImportJob(state.sessionmaker).run,
            "accrual_campaign": campaigns.run_campaign,
            "expiry_run": campaigns.run_expiry,
        },
        poll_interval_s=settings.job_poll_interval_s,
    )
    ledger.job_wake = runner.wake
    task = asyncio.create_task(runner.run(), name="ledger-jobs")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _as_problem(error: RuleError) -> DomainError:
    if isinstance(error, RulesBroken):
        return RuleViolation(rules=[RuleBrokenOut(r.rule_id, r.message) for r in error.broken])
    if isinstance(error, RuleBroken):
        return RuleViolation(rules=RuleBrokenOut(error.rule_id, error.message))
    if isinstance(error, NotFound):
        return NotFoundProblem(error.message)
    rule_id = getattr(error, "rule_id", None)
    if isinstance(error, Conflict | InvalidTransition):
        return ConflictProblem(
            error.message, rules=[RuleBrokenOut(rule_id, error.message)] if rule_id else ()
        )
    return RuleViolation(rules=RuleBrokenOut("R-?", error.message))


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    ledger = LedgerState(settings=settings, clock=clock or SystemClock())

    @asynccontextmanager
    async def ledger_lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = kit_state(app)
        ledger.account_reader = AccountReader(state.read_pool)
        async with _job_runner(state, ledger):
            yield

    app = create_service_app(
        settings,
        title="DIFE rights ledger",
        description="Élus registry (RNE), DIFE accounts in cents, crediting campaigns, holds and expiry.",
        routers=ROUTERS,
        consumers=consumer_specs(ledger.clock),
        extra_lifespan=ledger_lifespan,
    )
    app.state.ledger = ledger

    async def rule_error(request: Request, error: Exception) -> Response:
        """Until servicekit maps ``servicekit.rules`` errors itself: render them as its problems."""
        assert isinstance(error, RuleError)
        problem = _as_problem(error)
        return ProblemResponse(problem.problem(request.url.path), status_code=problem.status)

    app.add_exception_handler(RuleError, rule_error)
    return app


def create_app_from_env() -> FastAPI:
    return create_app(Settings())
