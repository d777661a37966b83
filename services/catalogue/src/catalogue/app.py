"""Wiring of the catalogue: routers, the dossier-events consumer, servicekit's runtime, the clock."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request
from servicekit import errors
from servicekit.app import create_service_app
from servicekit.clock import Clock, SystemClock
from servicekit.rules import Conflict, InvalidTransition, NotFound, RuleBroken, RuleError, RulesBroken
from servicekit.state import kit_state

from catalogue.api.offers import router as offers_router
from catalogue.api.organismes import router as organismes_router
from catalogue.api.search import router as search_router
from catalogue.api.themes import router as themes_router
from catalogue.consumers.dossier import consumer_spec
from catalogue.settings import Settings


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    the_clock = clock or SystemClock()

    @asynccontextmanager
    async def keep_clock(app: FastAPI) -> AsyncIterator[None]:
        kit_state(app).extras["clock"] = the_clock
        yield

    app = create_service_app(
        settings,
        title="DIFE catalogue",
        description="Training organisations and their agréments, offers and sessions, national search.",
        routers=[themes_router, organismes_router, search_router, offers_router],
        consumers=[consumer_spec()],
        extra_lifespan=keep_clock,
    )
    app.add_exception_handler(RuleError, _rule_problem)
    return app


async def _rule_problem(request: Request, exc: Exception) -> errors.ProblemResponse:
    """Temporary, until servicekit maps ``servicekit.rules`` errors itself."""
    error: errors.DomainError
    if isinstance(exc, RulesBroken):
        error = errors.RuleViolation(rules=[errors.RuleBroken(b.rule_id, b.message) for b in exc.broken])
    elif isinstance(exc, RuleBroken):
        error = errors.RuleViolation(rules=[errors.RuleBroken(exc.rule_id, exc.message)])
    elif isinstance(exc, NotFound):
        error = errors.NotFound(str(exc))
    elif isinstance(exc, InvalidTransition | Conflict):
        error = errors.Conflict(str(exc))
    else:
        error = errors.DomainError(str(exc))
    return errors.ProblemResponse(error.problem(request.url.path), status_code=error.status)


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory catalogue.app:create_app_from_env``: settings from ``CATALOGUE_*``."""
    return create_app(Settings())
