"""Wiring of the rights-ledger: ``create_app(settings, clock=...)``; ``create_app_from_env()`` for uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from servicekit.app import create_service_app
from servicekit.clock import Clock
from servicekit.state import kit_state
from servicekit.testclock import clock_for

from rights_ledger.api.routes import MAX_RNE_FILE_BYTES, READ_SHORTCUTS, ROUTERS
from rights_ledger.api.state import ledger_state
from rights_ledger.consumers import consumer_specs
from rights_ledger.jobs import job_kinds
from rights_ledger.jobs.calendar import ensure_calendar
from rights_ledger.settings import Settings


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    clock = clock or clock_for(settings)

    @asynccontextmanager
    async def own_calendar(app: FastAPI) -> AsyncIterator[None]:
        """R-ACC-3 / R-END-1: the next campaigns and tomorrow's expiry are scheduled (idempotent)."""
        if settings.jobs_enabled:
            await ensure_calendar(kit_state(app).sessionmaker, clock)
        yield

    return create_service_app(
        settings,
        title="DIFE rights ledger",
        description="Élus registry (RNE), DIFE accounts in cents, crediting campaigns, holds and expiry.",
        routers=ROUTERS,
        consumers=consumer_specs(clock),
        jobs=job_kinds(settings),
        service_state=ledger_state(settings),
        clock=clock,
        extra_lifespan=own_calendar,
        body_limits={"/v1/registry/imports": MAX_RNE_FILE_BYTES},
        read_shortcuts=READ_SHORTCUTS,
    )


def create_app_from_env() -> FastAPI:
    return create_app(Settings())
