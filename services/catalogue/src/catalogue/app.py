"""Wiring of the catalogue: routers, the dossier-events consumer, servicekit's runtime and the clock."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import create_service_app
from servicekit.clock import Clock

from catalogue.api.offers import router as offers_router
from catalogue.api.organismes import router as organismes_router
from catalogue.api.search import router as search_router
from catalogue.api.state import catalogue_state
from catalogue.api.themes import router as themes_router
from catalogue.consumers.dossier import consumer_spec
from catalogue.settings import Settings


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    """The catalogue app; ``clock`` defaults to the system's (tests pass a ``MovableClock``)."""
    return create_service_app(
        settings,
        title="DIFE catalogue",
        description="Training organisations and their agréments, offers and sessions, national search.",
        # The search first: the hot path is matched against fewer routes.
        routers=[search_router, themes_router, organismes_router, offers_router],
        consumers=[consumer_spec()],
        service_state=catalogue_state,
        clock=clock,
    )


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory catalogue.app:create_app_from_env``: settings from ``CATALOGUE_*``."""
    return create_app(Settings())
