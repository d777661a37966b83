"""Events of other contexts: through Kafka with the real consumer, trusted only from their owner, and a
replay of every consumed event changes nothing."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

from dife_contracts import Envelope
from dife_contracts.events import (
    AccountActivated,
    EluMandatesChanged,
    OfferWithdrawn,
    PaymentSettled,
    PensionLiquidated,
    PlanFailed,
    PlanLine,
    PlanProposed,
    SessionCancelled,
)
from dife_contracts.topics import source_of
from servicekit.testing import eventually, publish
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

from .conftest import Running, StartDossier

TABLES = ("dossiers", "dossier_transitions", "controls", "elus", "organismes", "offers", "sessions", "outbox")


async def _snapshot(database_url: str) -> dict[str, Any]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            snapshot: dict[str, Any] = {}
            for table in TABLES:
                rows = await connection.execute(text(f"SELECT * FROM {table}"))
                names = rows.keys()
                columns = [c for c in names if c not in ("id", "ce_id", "ce_time", "created_at")]
                snapshot[table] = sorted(repr([row._mapping[c] for c in columns]) for row in rows)
            return snapshot
    finally:
        await engine.dispose()


async def test_replaying_every_consumed_event_changes_nothing(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    elu_id = await app.elu_with_account()
    offer_id, session_id = await app.offer(of)
    first = await app.submitted(elu_id, offer_id, session_id)
    second = await app.submitted(await app.elu_with_account(), *await app.offer(of, start=date(2027, 4, 5)))
    await app.post(f"/v1/dossiers/{second['id']}/validation", app.organisme(of))
    dossier_id = uuid.UUID(second["id"])
    events = [
        EluMandatesChanged(elu_id=elu_id, mandates=[], snapshot_date=date(2027, 2, 1)),
        AccountActivated(elu_id=elu_id, activated_at=datetime(2027, 1, 2, tzinfo=UTC)),
        PensionLiquidated(elu_id=elu_id, liquidated_on=date(2027, 1, 31)),
        PlanProposed(
            dossier_id=dossier_id,
            elu_id=uuid.UUID(second["elu_id"]),
            price_cents=56_000,
            lines=[PlanLine(source="dife", amount_cents=56_000)],
        ),
        PlanFailed(dossier_id=dossier_id, elu_id=uuid.UUID(second["elu_id"]), reason="hold rejected"),
        SessionCancelled(offer_id=offer_id, siret=of, session_id=session_id, reason="formateur malade"),
        OfferWithdrawn(
            offer_id=offer_id, siret=of, reason="retirée", withdrawn_at=datetime(2027, 2, 1, tzinfo=UTC)
        ),
        PaymentSettled(
            dossier_id=dossier_id, payment_id=uuid.uuid4(), amount_cents=1, settled_on=date(2027, 2, 1)
        ),
    ]
    envelopes = [Envelope.wrap(event, source=source_of(event.topic)) for event in events]
    for event, envelope in zip(events, envelopes, strict=True):
        assert await app.feed(event, envelope) is True
    assert (await app.get(first["id"]))["status"] == "cancelled_by_organisme"
    assert (await app.get(second["id"]))["status"] == "cancelled_by_financer"
    before = await _snapshot(app.database_url)
    for event, envelope in zip(events, envelopes, strict=True):
        assert await app.feed(event, envelope) is False
    assert await _snapshot(app.database_url) == before


async def test_events_published_on_kafka_feed_the_read_models_and_an_untrusted_source_is_ignored(
    start_dossier: StartDossier, siret: Callable[[], str]
) -> None:
    async with start_dossier(consumers=True) as app:
        prefix = app.settings.topic_prefix
        elu_id = await app.elu_with_account(active=False)
        offer_id, session_id = await app.offer(siret())
        spoofed = AccountActivated(elu_id=elu_id, activated_at=datetime(2027, 1, 2, tzinfo=UTC))
        await publish(app.infra, prefix, spoofed, source="/dife/catalogue")
        genuine = await publish(app.infra, prefix, spoofed)
        assert genuine.source == "/dife/rights-ledger"

        async def can_submit() -> bool:
            return (await app.submit(elu_id, offer_id, session_id)).status_code == 201

        assert await eventually(can_submit, timeout_s=30)
        assert app.app.state.kit.consumers[0].dead_lettered_total == 1
