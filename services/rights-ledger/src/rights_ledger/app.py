"""Wiring of the rights-ledger: ``create_app(settings)``, and ``create_app_from_env()`` for uvicorn."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from servicekit.app import create_service_app
from servicekit.db import plain_url
from servicekit.state import KitState, kit_state

from rights_ledger.adapters.jobs import JobRunner
from rights_ledger.adapters.reads import AccountReader
from rights_ledger.api.routes import ROUTERS
from rights_ledger.consumers import consumer_specs
from rights_ledger.settings import Settings
from rights_ledger.use_cases.campaigns import Crediting
from rights_ledger.use_cases.registry import RegistryImport


@asynccontextmanager
async def _job_runner(state: KitState, settings: Settings) -> AsyncIterator[None]:
    """The background runner of imports, campaigns and expiry runs (one active per database)."""
    if not settings.jobs_enabled:
        yield
        return
    crediting = Crediting(
        state.sessionmaker, chunk_elus=settings.campaign_chunk_elus, workers=settings.campaign_workers
    )
    runner = JobRunner(
        dsn=plain_url(settings.database_url),
        engine=state.engine,
        sessionmaker=state.sessionmaker,
        handlers={
            "rne_import": RegistryImport(state.sessionmaker).run,
            "accrual_campaign": crediting.run_campaign,
            "expiry_run": crediting.run_expiry,
        },
        poll_interval_s=settings.job_poll_interval_s,
    )
    state.extras["job_runner"] = runner
    task = asyncio.create_task(runner.run(), name="ledger-jobs")
    try:
        yield
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def ledger_lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = kit_state(app)
        state.extras["account_reader"] = AccountReader(state.read_pool)
        async with _job_runner(state, settings):
            yield

    app = create_service_app(
        settings,
        title="DIFE rights ledger",
        description="Élus registry (RNE), DIFE accounts in cents, crediting campaigns, holds and expiry.",
        routers=ROUTERS,
        consumers=consumer_specs(),
        extra_lifespan=ledger_lifespan,
    )
    app.state.ledger_settings = settings
    return app


def create_app_from_env() -> FastAPI:
    return create_app(Settings())
