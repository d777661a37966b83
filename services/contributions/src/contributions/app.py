"""Wiring of the contributions service: routers, the service state (clock, policy), servicekit's runtime."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import create_service_app
from servicekit.clock import Clock, SystemClock

from contributions.api.bank import router as bank_router
from contributions.api.collectivites import router as collectivites_router
from contributions.api.common import ContributionsState
from contributions.api.periods import router as periods_router
from contributions.api.rule_problems import install_if_missing
from contributions.settings import Settings


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    app = create_service_app(
        settings,
        title="DIFE contributions",
        description="The 1 % contribution of collectivités: declarations, periodicity, payments, bank "
        "statements (camt.053), late periods.",
        routers=[collectivites_router, bank_router, periods_router],
    )
    install_if_missing(app)
    app.state.contributions = ContributionsState(
        clock=clock or SystemClock(), policy=settings.policy(), max_upload_bytes=settings.max_upload_bytes
    )
    return app


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory contributions.app:create_app_from_env``: settings from ``CONTRIBUTIONS_*``."""
    return create_app(Settings())
