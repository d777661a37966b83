"""The daily SEPA batch (R-PAY-3: paid within 30 days; batches built at least daily) and the overdue gauge.

One timer, `payout.daily_batch`, runs at `batch_hour_paris` every day in ONE transaction with its completion
(servicekit.jobs): it resolves dossiers whose plan and outcome are both known but unresolved (a safety net),
builds a batch of every payable payment, releases it, and schedules the next day's run under the same key.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import datetime, timedelta

import structlog
from prometheus_client import Gauge
from servicekit.clock import PARIS
from servicekit.jobs import Job, JobKinds, schedule
from servicekit.outbox import SessionOutbox
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from payout.adapters.repository import (
    BankDetailsRepository,
    BatchRepository,
    DossierRepository,
    PaymentRepository,
)
from payout.state import PayoutState
from payout.use_cases import batching, settlement

log = structlog.get_logger(__name__)

DAILY_BATCH = "payout.daily_batch"

PAYMENTS_OVERDUE = Gauge(
    "payout_payments_overdue", "Payments not settled by the end of their deadline day (R-PAY-3)"
)


def next_run(now: datetime, hour: int) -> datetime:
    """The next `hour`:00 in Paris strictly after `now`."""
    local = now.astimezone(PARIS)
    candidate = local.replace(hour=hour, minute=0, second=0, microsecond=0)
    if candidate <= local:
        candidate = (candidate + timedelta(days=1)).replace(hour=hour)
    return candidate


async def schedule_next(session: AsyncSession, state: PayoutState) -> None:
    await schedule(
        session,
        DAILY_BATCH,
        run_after=next_run(state.clock.now(), state.settings.batch_hour_paris),
        key=DAILY_BATCH,
    )


def job_kinds(state: PayoutState) -> JobKinds:
    kinds = JobKinds()

    @kinds.timer(DAILY_BATCH, concurrency=1)
    async def daily_batch(session: AsyncSession, job: Job) -> None:
        """R-PAY-3: build and release the day's batch; then the next run."""
        outbox = SessionOutbox(session, bulk=True)
        dossiers, payments = DossierRepository(session), PaymentRepository(session)
        for dossier_id in await dossiers.waiting_with_plan():
            await settlement.resolve(dossiers, payments, outbox, dossier_id, state.clock.now())
        batch = await batching.build_batch(
            payments,
            BankDetailsRepository(session, state.vault),
            BatchRepository(session, state.vault),
            debtor=state.debtor,
            now=state.clock.now(),
            today=state.clock.today(),
            max_payments=state.settings.batch_max_payments,
        )
        if batch is not None:
            await batching.release_batch(
                payments,
                BatchRepository(session, state.vault),
                outbox,
                batch_id=batch.batch_id,
                now=state.clock.now(),
            )
            log.info("daily batch released", batch_id=str(batch.batch_id), payments=batch.payment_count)
        PAYMENTS_OVERDUE.set(await payments.count_overdue(state.clock.today()))
        await schedule_next(session, state)

    return kinds


@contextlib.asynccontextmanager
async def overdue_gauge(
    sessionmaker: async_sessionmaker[AsyncSession], state: PayoutState, interval_s: float = 60.0
) -> AsyncIterator[None]:
    """Keep `payout_payments_overdue` fresh between daily runs (one count query a minute)."""

    async def refresh() -> None:
        while True:
            try:
                async with sessionmaker() as session:
                    PAYMENTS_OVERDUE.set(await PaymentRepository(session).count_overdue(state.clock.today()))
            except Exception as error:  # the gauge must never take the service down
                log.warning("overdue gauge not refreshed", error=repr(error))
            await asyncio.sleep(interval_s)

    task = asyncio.create_task(refresh(), name="payout-overdue-gauge")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
