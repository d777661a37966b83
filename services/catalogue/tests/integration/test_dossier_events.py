"""Dossier events consumed from Kafka: seats taken and freed per session, evaluations (R-DOS-6); replays are
no-ops."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from catalogue.consumers.dossier import handlers
from dife_contracts import Envelope, Event, topics
from dife_contracts.enums import CancelledBy, TrainingPurpose
from dife_contracts.events import (
    DossierAccepted,
    DossierCancelled,
    DossierEvaluated,
    DossierSubmitted,
)
from servicekit.db import make_engine, make_sessionmaker
from servicekit.rules import NotFound
from servicekit.testing import dispatch, eventually, publish
from sqlalchemy import text


async def send(catalogue: Any, *events: Event) -> list[Envelope]:
    """Put events on the dossier topic as the dossier service's relay would (servicekit's ``publish``)."""
    return [await publish(catalogue.infra, catalogue.settings.topic_prefix, event) for event in events]


async def redeliver(catalogue: Any, *envelopes: Envelope) -> None:
    """Deliver envelopes already sent once more, same ids: what Kafka does after a rebalance or a crash.
    (``servicekit.testing.publish`` wraps each event in a new envelope, so it cannot replay one.)"""
    producer = AIOKafkaProducer(
        bootstrap_servers=catalogue.infra.kafka_bootstrap, enable_idempotence=True, acks="all"
    )
    await producer.start()
    try:
        for envelope in envelopes:
            await producer.send_and_wait(
                catalogue.settings.topic(topics.DOSSIER),
                value=envelope.data,
                key=envelope.kafka_key(),
                headers=envelope.kafka_headers(),
            )
    finally:
        await producer.stop()


def submitted(offer: dict[str, Any], dossier_id: uuid.UUID) -> DossierSubmitted:
    first = offer["sessions"][0]
    return DossierSubmitted(
        dossier_id=dossier_id,
        elu_id=uuid.uuid4(),
        offer_id=offer["id"],
        session_id=first["id"],
        siret=offer["siret"],
        purpose=TrainingPurpose.MANDATE,
        price_cents=offer["price_ht_cents"],
        training_start=date.fromisoformat(first["start_date"]),
        training_end=date.fromisoformat(first["end_date"]),
        submitted_at=datetime.now(UTC),
        answer_deadline=date(2027, 1, 5),
    )


async def seats_left(catalogue: Any, offer_id: str) -> int:
    offer = (await catalogue.client.get(f"/v1/offers/{offer_id}")).json()
    return int(offer["sessions"][0]["seats_left"])


async def test_accepted_dossiers_take_seats_and_cancelled_ones_free_them(
    start_catalogue: Callable[..., Any], siret: Callable[[], str]
) -> None:
    async with start_catalogue(consumers=True) as catalogue:
        seller = await catalogue.accredited(siret())
        offer = await catalogue.published(seller)
        first, second = uuid.uuid4(), uuid.uuid4()
        elu = uuid.uuid4()
        sent = await send(
            catalogue,
            submitted(offer, first),
            DossierAccepted(dossier_id=first, elu_id=elu, accepted_at=datetime.now(UTC)),
        )

        async def twelve_minus(n: int) -> bool:
            return await seats_left(catalogue, offer["id"]) == 12 - n

        assert await eventually(lambda: twelve_minus(1))
        # The same acceptance delivered again, then a second dossier: only the second takes a seat.
        await redeliver(catalogue, sent[1])
        await send(catalogue, submitted(offer, second))
        await send(
            catalogue, DossierAccepted(dossier_id=second, elu_id=uuid.uuid4(), accepted_at=datetime.now(UTC))
        )
        assert await eventually(lambda: twelve_minus(2))
        cancelled = DossierCancelled(
            dossier_id=first,
            elu_id=elu,
            by=CancelledBy.ELU,
            reason="empêchement",
            force_majeure=True,
            rights_consumed=False,
            cancelled_at=datetime.now(UTC),
        )
        await send(catalogue, cancelled)
        assert await eventually(lambda: twelve_minus(1))
        # Cancelling the same dossier again (a new event, not a replay) frees nothing more.
        await send(catalogue, cancelled, submitted(offer, uuid.uuid4()))
        assert not await eventually(lambda: twelve_minus(0), timeout_s=2)
        assert await seats_left(catalogue, offer["id"]) == 11


async def test_evaluations_update_quality_and_are_announced_R_DOS_6(
    start_catalogue: Callable[..., Any], siret: Callable[[], str]
) -> None:
    async with start_catalogue(consumers=True) as catalogue:
        seller = await catalogue.accredited(siret())
        offer = await catalogue.published(seller)
        sent = await send(
            catalogue,
            *(
                DossierEvaluated(
                    dossier_id=uuid.uuid4(),
                    elu_id=uuid.uuid4(),
                    offer_id=offer["id"],
                    siret=seller,
                    rating=rating,
                    comment="Très utile pour préparer le budget",
                )
                for rating in (5, 4)
            ),
        )

        async def rated(count: int, average: str) -> bool:
            quality = (await catalogue.client.get(f"/v1/offers/{offer['id']}")).json()["quality"]
            return bool(quality == {"rating_count": count, "rating_average": average})

        assert await eventually(lambda: rated(2, "4.50"))
        organisme = (await catalogue.client.get(f"/v1/organismes/{seller}")).json()
        assert organisme["quality"] == {"rating_count": 2, "rating_average": "4.50"}
        events = await catalogue.events(2, subject=offer["id"], ce_type="offer_quality_updated")
        payloads = sorted((json.loads(e.data) for e in events), key=lambda p: p["offer_rating_count"])
        assert [p["offer_rating_count"] for p in payloads] == [1, 2]
        assert payloads[1]["offer_rating_average"] == "4.50"
        assert payloads[1]["organisme_rating_count"] == 2
        # The first evaluation delivered again, then a later one of the same dossier (same key, so after it):
        # only the later one counts.
        replayed = sent[0]
        later = DossierEvaluated.model_validate({**json.loads(replayed.data), "rating": 3})
        await redeliver(catalogue, replayed)
        await send(catalogue, later)
        assert await eventually(lambda: rated(3, "4.00"))
        assert not await eventually(lambda: rated(4, "4.25"), timeout_s=1)


async def test_an_evaluation_of_an_unknown_offer_breaks_a_rule_so_the_consumer_dead_letters_it_R_DOS_6(
    catalogue: Any,
) -> None:
    """Through the inbox without Kafka (servicekit's ``dispatch``): the handler refuses with a
    ``servicekit.rules`` error, which the consumer dead-letters, and nothing of the evaluation is kept."""
    engine = make_engine(catalogue.settings.database_url)
    sessions = make_sessionmaker(engine, ce_source="/dife/catalogue")
    evaluation = DossierEvaluated(
        dossier_id=uuid.uuid4(), elu_id=uuid.uuid4(), offer_id=uuid.uuid4(), siret="73282932000074", rating=4
    )
    try:
        with pytest.raises(NotFound):
            await dispatch(sessions, handlers, evaluation)
        async with sessions() as session:
            kept = await session.scalar(text("SELECT count(*) FROM inbox WHERE ce_type LIKE '%evaluated%'"))
        assert kept == 0
    finally:
        await engine.dispose()


async def test_a_redelivered_acceptance_takes_no_second_seat(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    """The inbox makes the same delivery a no-op (servicekit's ``dispatch``, no Kafka)."""
    seller = await catalogue.accredited(siret())
    offer = await catalogue.published(seller)
    engine = make_engine(catalogue.settings.database_url)
    sessions = make_sessionmaker(engine, ce_source="/dife/catalogue")
    dossier = uuid.uuid4()
    try:
        assert await dispatch(sessions, handlers, submitted(offer, dossier))
        accepted = DossierAccepted(dossier_id=dossier, elu_id=uuid.uuid4(), accepted_at=datetime.now(UTC))
        envelope = Envelope.wrap(accepted, source=topics.source_of(accepted.topic))
        assert await dispatch(sessions, handlers, accepted, envelope=envelope)
        assert not await dispatch(sessions, handlers, accepted, envelope=envelope)
    finally:
        await engine.dispose()
    assert await seats_left(catalogue, offer["id"]) == 11
