"""Wiring of payout: routers, the consumers of funding, dossier, ledger and contributions events, the daily
batch timer, the typed state (clock, IBAN vault, the fund's account), servicekit's runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from servicekit.app import create_service_app
from servicekit.clock import Clock
from servicekit.state import KitState
from servicekit.testclock import clock_for

from payout.adapters.pain002 import MAX_REPORT_BYTES
from payout.api.batches import router as batches_router
from payout.api.fund import router as fund_router
from payout.api.payees import router as payees_router
from payout.api.payments import router as payments_router
from payout.consumers.handlers import consumer_specs
from payout.jobs.daily import job_kinds, overdue_gauge, schedule_next
from payout.settings import Settings
from payout.state import PayoutState


def create_app(settings: Settings, *, clock: Clock | None = None) -> FastAPI:
    clock = clock or clock_for(settings)
    state = PayoutState.build(settings, clock)

    @asynccontextmanager
    async def service_state(kit: KitState) -> AsyncIterator[PayoutState]:
        if settings.batch_job_enabled:
            async with kit.sessionmaker.begin() as session:
                await schedule_next(session, state)  # keyed: a restart replaces the pending run
        async with overdue_gauge(kit.sessionmaker, state):
            yield state

    return create_service_app(
        settings,
        title="DIFE payout",
        description="Paying the organisations: amounts due, DIFE capture, SEPA, bank returns, fund.",
        routers=[payees_router, payments_router, batches_router, fund_router],
        consumers=consumer_specs(clock),
        jobs=job_kinds(state),
        service_state=service_state,
        clock=clock,
        body_limits={"/v1/payment-batches": MAX_REPORT_BYTES},  # a bank's pain.002 for a large batch
    )


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory payout.app:create_app_from_env``: settings from ``PAYOUT_*``."""
    return create_app(Settings())
