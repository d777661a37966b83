"""What the running services show operators and integrators, driven through `driver.py` like the user
journeys (`test_user_journeys.py`): readiness, OpenAPI and metrics; the events the ledger, funding and
catalogue put on Kafka as an élu is credited and rights are held; the public catalogue and its seats.

The user journeys check statuses, balances and payments; these check the bus and the operators' endpoints
they do not look at.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from dife_contracts import topics
from dife_contracts.events import DifeHoldRequested, HoldPlaced, RightsCredited
from driver import SERVICES, START, Dife
from servicekit.testing import collect, eventually

if TYPE_CHECKING:
    from conftest import Platform

YEAR = START.year


async def test_every_service_is_ready_and_serves_openapi_and_metrics(platform: Platform, dife: Dife) -> None:
    assert sorted(platform.services) == sorted(SERVICES)
    for service in SERVICES:

        async def ready_now(name: str = service) -> dict[str, Any] | None:
            return await dife.readiness(name)

        ready: dict[str, Any] = await dife.until(f"{service} ready", ready_now)
        assert ready["checks"] == {"database": "ok", "kafka": "ok"}
        assert (await dife.openapi(service))["info"]["title"]
        assert "dife_http_request_duration_seconds" in await dife.metrics(service)


async def test_the_ledger_and_funding_announce_the_credit_and_the_hold_on_kafka_R_ACC_1_R_FUN_1(
    platform: Platform, dife: Dife
) -> None:
    """RNE import → activation → campaign: the ledger announces the 400 € credit (R-ACC-1); a dossier
    validated by the OF: funding asks the DIFE hold over Kafka, the ledger announces it placed (R-FUN-1)."""
    await dife.set_clock(START)
    [elu] = await dife.register_elus(1, year=YEAR, commune_code="01004")
    organisme = await dife.register_organisme(
        agrement_from=date(2027, 1, 1), agrement_until=date(2029, 12, 31)
    )
    offer = await dife.publish_offer(organisme, [(date(2027, 6, 7), date(2027, 6, 8))], price_cents=30_000)
    [credited] = await collect(
        platform.infra,
        platform.topic(topics.LEDGER),
        count=1,
        timeout_s=30,
        where=lambda e: e.type == RightsCredited.ce_type and e.subject == elu.elu_id,
    )
    credit = credited.parse()
    assert isinstance(credit, RightsCredited) and credit.amount_cents == 40_000

    dossier_id = await dife.submit(elu, offer)
    await dife.validate(organisme, dossier_id)
    [asked] = await collect(
        platform.infra,
        platform.topic(topics.FUNDING),
        count=1,
        timeout_s=30,
        where=lambda e: e.type == DifeHoldRequested.ce_type and e.subject == dossier_id,
    )
    request = asked.parse()
    assert isinstance(request, DifeHoldRequested)
    assert (str(request.elu_id), request.amount_cents, request.training_start) == (
        elu.elu_id,
        30_000,
        date(2027, 6, 7),
    )
    [placed] = await collect(
        platform.infra,
        platform.topic(topics.LEDGER),
        count=1,
        timeout_s=30,
        where=lambda e: e.type == HoldPlaced.ce_type and e.subject == elu.elu_id,
    )
    hold = placed.parse()
    assert isinstance(hold, HoldPlaced)
    assert (str(hold.dossier_id), hold.amount_cents) == (dossier_id, 30_000)
    assert hold.available_after_cents == 10_000
    await dife.wait_account(elu, held_cents=30_000, available_cents=10_000)


async def test_an_offer_is_published_found_by_anyone_and_its_seats_follow_the_dossiers_R_OFR_4(
    platform: Platform, dife: Dife
) -> None:
    """Agrément (R-OF-1) → offer and session published → the public search finds it and the catalogue
    announces it; an accepted dossier takes a seat of the 15 (R-OFR-4), its cancellation gives it back."""
    await dife.set_clock(START)
    [elu] = await dife.register_elus(1, year=YEAR, commune_code="01005")
    organisme = await dife.register_organisme(
        agrement_from=date(2027, 1, 1), agrement_until=date(2029, 12, 31)
    )
    offer = await dife.publish_offer(organisme, [(date(2027, 6, 7), date(2027, 6, 8))], capacity=15)
    found = await dife.search_offers(q="finances locales", department="01", organisme=organisme.siret)
    assert [item["id"] for item in found] == [offer.offer_id]
    assert not await dife.search_offers(q="finances locales", department="75", organisme=organisme.siret)
    published = await collect(
        platform.infra,
        platform.topic(topics.CATALOGUE),
        count=1,
        timeout_s=30,
        where=lambda e: e.type == "dife.catalogue.offer_published.v1" and e.subject == offer.offer_id,
    )
    assert len(published) == 1

    async def seats_left(expected: int) -> bool:
        [session] = (await dife.offer(offer.offer_id))["sessions"]
        return bool(session["seats_left"] == expected)

    assert await seats_left(15)
    dossier_id = await dife.submit(elu, offer)
    await dife.validate(organisme, dossier_id)
    await dife.wait_plan_ready(dossier_id)
    await dife.accept(elu, dossier_id)
    assert await eventually(lambda: seats_left(14), timeout_s=30)
    await dife.cancel(elu.headers, dossier_id, "empêchement")  # 6 April: 35 working days before, rights back
    assert await eventually(lambda: seats_left(15), timeout_s=30)
