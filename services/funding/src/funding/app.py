"""Wiring of funding: ``create_app(settings, clock=...)``, and ``create_app_from_env()`` for uvicorn."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from servicekit.app import create_service_app
from servicekit.clock import Clock
from servicekit.state import KitState
from servicekit.testclock import clock_for
from sqlalchemy.ext.asyncio import AsyncSession

from funding.api import cofunding, plans, psp
from funding.api.deps import FundingState
from funding.consumers import consumer_specs
from funding.jobs import job_kinds
from funding.settings import Settings
from funding.use_cases.ports import Funding, FundingConfig, funding_in


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    clock = clock or clock_for(settings)
    config = FundingConfig(
        clock=clock,
        policy=settings.consumed_exit_policy,
        max_hold_attempts=settings.max_hold_attempts,
        settlement=settings.settlement_policy,
    )

    def funding_for(session: AsyncSession) -> Funding:
        return funding_in(session, config)

    @asynccontextmanager
    async def service_state(kit: KitState) -> AsyncIterator[FundingState]:
        yield FundingState(funding_for=funding_for, psp_secrets=settings.psp_secret_values)

    return create_service_app(
        settings,
        title="DIFE funding",
        description="The funding plan of every dossier: DIFE first, collectivité top-ups, CPF/CEC, card.",
        routers=[
            plans.router,
            cofunding.envelopes_router,
            cofunding.requests_router,
            cofunding.codes_router,
            psp.router,
        ],
        consumers=consumer_specs(funding_for),
        jobs=job_kinds(funding_for),
        service_state=service_state,
        clock=clock,
    )


def create_app_from_env() -> FastAPI:
    return create_app(Settings())
