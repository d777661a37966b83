"""Wiring of the contributions service: routers, the late-sweep timer, typed state, servicekit runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from servicekit.app import create_service_app
from servicekit.clock import Clock
from servicekit.state import KitState
from servicekit.testclock import clock_for

from contributions.api.bank import router as bank_router
from contributions.api.collectivites import declaration_body_schemas
from contributions.api.collectivites import router as collectivites_router
from contributions.api.common import ContributionsState
from contributions.api.periods import router as periods_router
from contributions.jobs.late import late_jobs, schedule_sweep
from contributions.settings import Settings

UPLOAD_PREFIXES = ("/v1/collectivites", "/v1/bank-statements")
"""Routes taking files (payroll CSV, lists, camt.053): `max_upload_bytes` instead of servicekit's 1 MiB."""


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    clock = clock or clock_for(settings)
    policy = settings.policy()

    @asynccontextmanager
    async def service_state(kit: KitState) -> AsyncIterator[ContributionsState]:
        async with kit.sessionmaker.begin() as session:
            await schedule_sweep(session, kit.clock.now())
        yield ContributionsState(clock=kit.clock, policy=policy, max_upload_bytes=settings.max_upload_bytes)

    app = create_service_app(
        settings,
        title="DIFE contributions",
        description="The 1 % contribution of collectivités: declarations, periodicity, payments, bank "
        "statements (camt.053), late periods.",
        routers=[collectivites_router, bank_router, periods_router],
        jobs=late_jobs(clock, policy),
        service_state=service_state,
        clock=clock,
        body_limits={prefix: settings.max_upload_bytes for prefix in UPLOAD_PREFIXES},
    )
    _document_declaration_body(app)
    return app


def _document_declaration_body(app: FastAPI) -> None:
    """Add the declaration body models to the OpenAPI document (see `declaration_body_schemas`)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schemas = generate().setdefault("components", {}).setdefault("schemas", {})
            for name, schema in declaration_body_schemas().items():
                schemas.setdefault(name, schema)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory contributions.app:create_app_from_env``: settings from ``CONTRIBUTIONS_*``."""
    return create_app(Settings())
