"""The daily batch (R-PAY-3: batches built at least daily) and the overdue gauge, with a moved clock."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

from payout.jobs.daily import DAILY_BATCH, next_run
from servicekit.clock import PARIS
from servicekit.jobs import list_jobs
from servicekit.testing import run_due_jobs

from .conftest import Payout


def test_the_next_run_is_the_next_batch_hour_in_paris() -> None:
    assert next_run(datetime(2027, 1, 15, 4, 59, tzinfo=UTC), 6) == datetime(2027, 1, 15, 6, tzinfo=PARIS)
    assert next_run(datetime(2027, 1, 15, 5, 0, tzinfo=UTC), 6) == datetime(2027, 1, 16, 6, tzinfo=PARIS)


async def test_the_daily_job_builds_and_releases_a_batch_then_schedules_tomorrow_R_PAY_3(
    payout: Payout, siret: Callable[[], str]
) -> None:
    of = siret()
    await payout.verified_payee(of)
    dossier = await payout.order(of, price_cents=42_000)
    payout.clock.set_paris(date(2027, 1, 15), hour=5)  # before 06:00: not due yet
    assert await run_due_jobs(payout.app, [DAILY_BATCH]) == 0
    assert (await payout.payment_of(dossier))["status"] == "due"
    payout.clock.set_paris(date(2027, 1, 16), hour=6, minute=1)
    assert await run_due_jobs(payout.app, [DAILY_BATCH]) == 1
    payment = await payout.payment_of(dossier)
    assert payment["status"] == "sent" and payment["batch_id"] is not None
    async with payout.app.state.kit.sessionmaker() as session:
        pending = await list_jobs(session, kind=DAILY_BATCH, status="pending")
    assert [job.run_after for job in pending] == [datetime(2027, 1, 17, 6, tzinfo=PARIS)]
    sent = await payout.events(
        1, where=lambda e: e.subject == str(dossier) and e.type.endswith("payment_sent.v1")
    )
    assert sent and sent[0].parse().amount_cents == 42_000


async def test_the_overdue_gauge_counts_unsettled_payments_past_their_deadline_R_PAY_3(
    payout: Payout, siret: Callable[[], str]
) -> None:
    await payout.order(siret(), validated_on=date(2027, 1, 1))  # deadline 2027-01-31
    payout.clock.set_paris(date(2027, 2, 1), hour=6, minute=1)
    assert await run_due_jobs(payout.app, [DAILY_BATCH]) == 1
    metrics = await payout.client.get("/metrics")
    assert "payout_payments_overdue 1.0" in metrics.text
