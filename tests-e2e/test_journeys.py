"""Journeys across the running services, each a real process, coordinating only through Kafka.

Where a context's service is not built yet, the test puts that context's events on the bus exactly as its
outbox relay would (`servicekit.testing.publish`), and checks what the running services do with them.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any

import httpx
from dife_contracts import topics
from dife_contracts.enums import TrainingPurpose
from dife_contracts.events import DifeHoldRequested, DossierAccepted, DossierSubmitted, HoldPlaced
from servicekit.testing import collect, eventually, publish
from stdnum import luhn

CM_HEADER = (
    "Code du département;Libellé du département;Code de la collectivité à statut particulier;"
    "Libellé de la collectivité à statut particulier;Code de la commune;Libellé de la commune;Nom de l'élu;"
    "Prénom de l'élu;Code sexe;Date de naissance;Code de la catégorie socio-professionnelle;"
    "Libellé de la catégorie socio-professionnelle;Date de début du mandat;Libellé de la fonction;"
    "Date de début de la fonction;Code nationalité"
)
if TYPE_CHECKING:
    from conftest import Platform

NIR = "261037511100736"  # a woman born in March 1961 (R-REG-3); not test_cli.py's: one NIR, one account
Bearer = Callable[..., dict[str, str]]


async def wait_job(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        job = (await client.get(path, headers=headers)).json()
        if job["status"] in ("succeeded", "failed"):
            return dict(job)
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {path} did not finish")


async def test_every_service_is_ready_and_serves_openapi_and_metrics(platform: Platform) -> None:
    for service in platform.services.values():
        async with service.client() as client:
            assert (await client.get("/readyz")).json()["checks"] == {"database": "ok", "kafka": "ok"}
            assert (await client.get("/openapi.json")).json()["info"]["title"]
            assert "dife_http_request_duration_seconds" in (await client.get("/metrics")).text


async def test_an_elu_is_registered_activated_credited_and_rights_are_held_for_a_dossier(
    platform: Platform, bearer: Bearer
) -> None:
    """RNE import → activation → annual campaign (R-ACC-1) → funding asks a hold over Kafka → hold placed."""
    agent = bearer("agent")
    family = f"E2E{uuid.uuid4().hex[:8].upper()}"
    row = f"01;Ain;;;1001;Commune 1001;{family};Élise;F;05/03/1961;23;Cadres;28/06/2020;;;FR"
    async with platform.services["rights-ledger"].client() as ledger:
        started = await ledger.post(
            # force: a one-line snapshot ends every other municipal mandate of the shared e2e database
            "/v1/registry/imports?file_type=cm&snapshot_date=2026-01-15&force=true",
            content=f"{CM_HEADER}\n{row}\n".encode(),
            headers=agent,
        )
        assert started.status_code == 202, started.text
        job = await wait_job(ledger, f"/v1/registry/imports/{started.json()['id']}", agent)
        assert job["status"] == "succeeded", job

        # R-ACT-1: the identity comes from the identity provider's claims in the token, the body is the NIR
        claims = {"family_name": family, "given_name": "Élise", "birthdate": "1961-03-05", "gender": "female"}
        elu = bearer("elu", sub=f"fc-{uuid.uuid4()}", **claims)
        activated = await ledger.post("/v1/accounts/activation", json={"nir": NIR}, headers=elu)
        assert activated.status_code in (200, 201), activated.text
        elu_id = activated.json()["elu_id"]

        campaign = await ledger.post(
            "/v1/accrual-campaigns", json={"family": "municipal", "year": 2026}, headers=agent
        )
        assert campaign.status_code == 202, campaign.text
        assert (await wait_job(ledger, f"/v1/accrual-campaigns/{campaign.json()['id']}", agent))[
            "status"
        ] == "succeeded"
        account = (await ledger.get(f"/v1/accounts/{elu_id}", headers=elu)).json()
        assert account["balance_cents"] == 40_000

        dossier_id = uuid.uuid4()
        await publish(
            platform.infra,
            platform.topic_prefix,
            DifeHoldRequested(
                dossier_id=dossier_id,
                elu_id=uuid.UUID(elu_id),
                amount_cents=30_000,
                purpose=TrainingPurpose.MANDATE,
                training_start=date(2026, 9, 1),
                training_end=date(2026, 9, 2),
            ),
            source="/dife/funding",
        )
        placed = await collect(
            platform.infra,
            platform.topic(topics.LEDGER),
            count=1,
            timeout_s=30,
            where=lambda e: e.type == "dife.ledger.hold_placed.v1" and e.subject == elu_id,
        )
        assert len(placed) == 1
        hold = placed[0].parse()
        assert isinstance(hold, HoldPlaced) and hold.dossier_id == dossier_id

        async def held() -> bool:
            view = (await ledger.get(f"/v1/accounts/{elu_id}", headers=elu)).json()
            return bool(view["held_cents"] == 30_000 and view["available_cents"] == 10_000)

        assert await eventually(held)


def _siret(seed: int) -> str:
    siren = f"{52_000_000 + seed % 1_000_000:08d}"
    siren += luhn.calc_check_digit(siren)
    return siren + "0001" + luhn.calc_check_digit(siren + "0001")


async def test_an_offer_is_published_found_by_anyone_and_its_seats_follow_accepted_dossiers(
    platform: Platform, bearer: Bearer
) -> None:
    """Agrément (R-OF-1) → offer and session → public search → a dossier accepted takes a seat."""
    siret = _siret(uuid.uuid4().int)
    agent = bearer("agent")
    organisme = bearer("organisme", sub=siret, siret=siret)
    async with platform.services["catalogue"].client() as catalogue:
        registered = await catalogue.post(
            "/v1/organismes",
            json={
                "siret": siret,
                "name": "Institut des élus de l'Ain",
                "nda": "84691234569",
                "address": {"city": "Bourg"},
            },
            headers=agent,
        )
        assert registered.status_code == 201, registered.text
        agrement = {
            "reference": f"AGR-{siret}",
            "decision_date": "2025-01-01",
            "valid_from": "2025-01-01",
            "valid_until": "2030-12-31",
        }
        assert (
            await catalogue.post(f"/v1/organismes/{siret}/agrements", json=agrement, headers=agent)
        ).status_code == 201
        title = f"Prise de parole en public pour élus {uuid.uuid4().hex[:6]}"
        offer = await catalogue.post(
            "/v1/offers",
            json={
                "kind": "mandate",
                "title": title,
                "summary": "Convaincre en conseil municipal.",
                "theme_code": "EPE-02",
                "hours": "14",
                "price_ht_cents": 112_000,
                "modality": "in_person",
                "location": {
                    "commune_insee": "01053",
                    "postal_code": "01000",
                    "city": "Bourg-en-Bresse",
                    "department": "01",
                    "region": "84",
                    "lat": 46.205,
                    "lon": 5.2255,
                },
            },
            headers=organisme,
        )
        assert offer.status_code == 201, offer.text
        offer_id = offer.json()["id"]
        session = await catalogue.post(
            f"/v1/offers/{offer_id}/sessions",
            json={"start_date": "2027-06-07", "end_date": "2027-06-08", "capacity": 15},
            headers=organisme,
        )
        assert session.status_code == 201, session.text
        assert (await catalogue.post(f"/v1/offers/{offer_id}/publish", headers=organisme)).status_code == 200

        found = (
            await catalogue.get("/v1/offers", params={"q": "prise de parole", "department": "01"})
        ).json()
        assert offer_id in [item["id"] for item in found["items"]]
        published = await collect(
            platform.infra,
            platform.topic(topics.CATALOGUE),
            count=1,
            timeout_s=30,
            where=lambda e: e.type == "dife.catalogue.offer_published.v1" and e.subject == offer_id,
        )
        assert len(published) == 1

        session_id = uuid.UUID(session.json()["id"])
        dossier_id, elu_id = uuid.uuid4(), uuid.uuid4()
        for event in (
            DossierSubmitted(
                dossier_id=dossier_id,
                elu_id=elu_id,
                offer_id=uuid.UUID(offer_id),
                session_id=session_id,
                siret=siret,
                purpose=TrainingPurpose.MANDATE,
                price_cents=112_000,
                training_start=date(2027, 6, 7),
                training_end=date(2027, 6, 8),
                submitted_at=datetime.now(UTC),
                answer_deadline=date(2027, 4, 8),
            ),
            DossierAccepted(dossier_id=dossier_id, elu_id=elu_id, accepted_at=datetime.now(UTC)),
        ):
            await publish(platform.infra, platform.topic_prefix, event, source="/dife/dossier")

        async def one_seat_taken() -> bool:
            view = (await catalogue.get(f"/v1/offers/{offer_id}")).json()
            return bool(view["sessions"][0]["seats_left"] == 14)

        assert await eventually(one_seat_taken, timeout_s=30)
