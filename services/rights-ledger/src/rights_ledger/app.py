"""Wiring of the rights-ledger: ``create_app(settings, clock=...)``; ``create_app_from_env()`` for uvicorn."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import create_service_app
from servicekit.clock import Clock, SystemClock

from rights_ledger.api.routes import ROUTERS
from rights_ledger.api.state import ledger_state
from rights_ledger.consumers import consumer_specs
from rights_ledger.jobs import job_kinds
from rights_ledger.settings import Settings


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    clock = clock or SystemClock()
    return create_service_app(
        settings,
        title="DIFE rights ledger",
        description="Élus registry (RNE), DIFE accounts in cents, crediting campaigns, holds and expiry.",
        routers=ROUTERS,
        consumers=consumer_specs(clock),
        jobs=job_kinds(settings),
        service_state=ledger_state(settings),
        clock=clock,
    )


def create_app_from_env() -> FastAPI:
    return create_app(Settings())
