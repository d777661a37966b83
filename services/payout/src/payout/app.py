"""Wiring of payout: routers, the consumers of funding, dossier, ledger and contributions events, the
typed state (clock, IBAN vault, the fund's account), servicekit's runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from servicekit.app import create_service_app
from servicekit.clock import Clock, SystemClock

from payout.api import _pre_kit_rules
from payout.api.batches import router as batches_router
from payout.api.fund import router as fund_router
from payout.api.payees import router as payees_router
from payout.api.payments import router as payments_router
from payout.consumers.handlers import consumer_specs
from payout.settings import Settings
from payout.state import PayoutState


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    state = PayoutState.build(settings, clock or SystemClock())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.payout = state
        yield

    app = create_service_app(
        settings,
        title="DIFE payout",
        description="Paying the organisations: amounts due, DIFE capture, SEPA, bank returns, fund.",
        routers=[payees_router, payments_router, batches_router, fund_router],
        consumers=consumer_specs(state),
        extra_lifespan=lifespan,
    )
    _pre_kit_rules.install(app)
    return app


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory payout.app:create_app_from_env``: settings from ``PAYOUT_*``."""
    return create_app(Settings())
