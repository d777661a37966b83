"""Wiring of the dossier service: routers, the consumer of other contexts' events, the timers."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import create_service_app
from servicekit.clock import Clock
from servicekit.testclock import clock_for

from dossier.api.controls import router as controls_router
from dossier.api.dossiers import router as dossiers_router
from dossier.api.public import router as public_router
from dossier.consumers.handlers import consumer_spec
from dossier.jobs.timers import job_kinds
from dossier.settings import Settings


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    clock = clock or clock_for(settings)
    return create_service_app(
        settings,
        title="DIFE dossier",
        description=(
            "The training dossier from the élu's request to the payment: EDOF statuses, deadlines in French "
            "working days, controls, evaluation, and the public list of financed trainings (R-PUB-1)."
        ),
        routers=[dossiers_router, controls_router, public_router],
        consumers=[consumer_spec(clock)],
        jobs=job_kinds(clock),
        clock=clock,
    )


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory dossier.app:create_app_from_env``: settings from ``DOSSIER_*``."""
    return create_app(Settings())
