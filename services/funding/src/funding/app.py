"""Wiring of funding: ``create_app(settings, clock=...)``, and ``create_app_from_env()`` for uvicorn."""

from __future__ import annotations

from fastapi import FastAPI
from servicekit.app import create_service_app
from servicekit.clock import Clock, SystemClock
from sqlalchemy.ext.asyncio import AsyncSession

from funding.adapters.outbox import SessionOutbox, UnscheduledTimers
from funding.api import cofunding, plans, psp
from funding.consumers import consumer_specs
from funding.settings import Settings
from funding.use_cases.ports import Funding, FundingConfig, funding_in


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    config = FundingConfig(
        clock=clock or SystemClock(),
        policy=settings.consumed_exit_policy,
        max_hold_attempts=settings.max_hold_attempts,
    )

    def funding_for(session: AsyncSession) -> Funding:
        return funding_in(session, config, outbox=SessionOutbox(session), scheduler=UnscheduledTimers())

    app = create_service_app(
        settings,
        title="DIFE funding",
        description="The funding plan of every dossier: DIFE first, collectivité top-ups, CPF/CEC, card.",
        routers=[plans.router, cofunding.envelopes_router, cofunding.requests_router, psp.router],
        consumers=consumer_specs(funding_for),
    )
    app.state.funding_for = funding_for
    app.state.psp_secrets = settings.psp_secret_values
    app.state.funding_settings = settings
    return app


def create_app_from_env() -> FastAPI:
    return create_app(Settings())
