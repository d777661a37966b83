"""Fixtures of the catalogue tests: the real app on the real PostgreSQL and Kafka (servicekit fixtures)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from catalogue.app import create_app
from catalogue.settings import Settings
from dife_contracts import Envelope, topics
from servicekit.clock import Clock
from servicekit.testing import Infra, collect, migrate, own_topics, running_app
from stdnum import luhn

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"

LYON = {
    "commune_insee": "69123",
    "postal_code": "69001",
    "city": "Lyon",
    "department": "69",
    "region": "84",
    "lat": 45.764,
    "lon": 4.836,
}


def make_siret(seed: int) -> str:
    """A SIRET with valid Luhn keys (SIREN and SIRET), different for each seed."""
    siren = f"{31_000_000 + seed:08d}"
    siren += luhn.calc_check_digit(siren)
    body = f"{siren}0001"
    return body + luhn.calc_check_digit(body)


@dataclass
class Catalogue:
    """The running app and the steps most tests share, each asserting its own success."""

    client: httpx.AsyncClient
    settings: Settings
    token: Callable[..., str]
    infra: Infra

    def agent(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=str(uuid.uuid4()), roles=['agent'])}"}

    def organisme(self, siret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=siret, roles=['organisme'], siret=siret)}"}

    def topic(self, logical: str) -> str:
        return self.settings.topic(logical)

    async def events(
        self, count: int, *, subject: str | None = None, ce_type: str | None = None
    ) -> list[Envelope]:
        """Catalogue events of one aggregate (or all) on Kafka, read from the beginning, in order."""

        def wanted(envelope: Envelope) -> bool:
            return (subject is None or envelope.subject == subject) and (
                ce_type is None or envelope.type == f"dife.catalogue.{ce_type}.v1"
            )

        return await collect(self.infra, self.topic(topics.CATALOGUE), count=count, where=wanted)

    async def register(self, siret: str, name: str = "Institut de formation des élus") -> dict[str, Any]:
        response = await self.client.post(
            "/v1/organismes",
            json={"siret": siret, "name": name, "nda": "84691234569", "address": {"city": "Lyon"}},
            headers=self.agent(),
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def grant(
        self, siret: str, valid_from: date = date(2025, 1, 1), valid_until: date = date(2030, 12, 31)
    ) -> dict[str, Any]:
        response = await self.client.post(
            f"/v1/organismes/{siret}/agrements",
            json={
                "reference": f"AGR-{uuid.uuid4().hex[:8]}",
                "decision_date": valid_from.isoformat(),
                "valid_from": valid_from.isoformat(),
                "valid_until": valid_until.isoformat(),
            },
            headers=self.agent(),
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def accredited(self, siret: str, name: str = "Institut de formation des élus") -> str:
        await self.register(siret, name)
        await self.grant(siret)
        return siret

    async def create_offer(self, siret: str, **fields: Any) -> httpx.Response:
        body: dict[str, Any] = {
            "kind": "mandate",
            "title": "Finances locales : construire et voter le budget",
            "summary": "Comprendre le budget communal.",
            "theme_code": "FAL-03",
            "hours": "7",
            "price_ht_cents": 56_000,
            "modality": "in_person",
            "location": LYON,
        }
        body.update(fields)
        return await self.client.post("/v1/offers", json=body, headers=self.organisme(siret))

    async def offer(self, siret: str, **fields: Any) -> dict[str, Any]:
        response = await self.create_offer(siret, **fields)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def add_session(
        self,
        offer_id: str,
        siret: str,
        start: date = date(2027, 3, 15),
        end: date | None = None,
        capacity: int = 12,
    ) -> httpx.Response:
        return await self.client.post(
            f"/v1/offers/{offer_id}/sessions",
            json={
                "start_date": start.isoformat(),
                "end_date": (end or start).isoformat(),
                "capacity": capacity,
            },
            headers=self.organisme(siret),
        )

    async def published(
        self, siret: str, *, start: date = date(2027, 3, 15), **fields: Any
    ) -> dict[str, Any]:
        offer = await self.offer(siret, **fields)
        response = await self.add_session(offer["id"], siret, start=start)
        assert response.status_code == 201, response.text
        published = await self.client.post(f"/v1/offers/{offer['id']}/publish", headers=self.organisme(siret))
        assert published.status_code == 200, published.text
        return dict(published.json())


CatalogueFactory = Callable[..., Any]


@pytest.fixture(scope="session")
def start_catalogue(
    database_factory: Callable[[], Awaitable[str]],
    kit_overrides: Callable[[str], dict[str, Any]],
    mint_token: Callable[..., str],
    infra: Infra,
) -> Callable[..., Any]:
    """``async with start_catalogue(consumers=True, clock=…) as catalogue``: a migrated database, the running
    app (on the system clock unless given one)."""

    @asynccontextmanager
    async def start(*, consumers: bool = False, clock: Clock | None = None) -> AsyncIterator[Catalogue]:
        database_url = await database_factory()
        await migrate(ALEMBIC_INI, database_url)
        overrides = kit_overrides(database_url)
        # A consumer reads its topic from the start: topics of its own keep other tests' events away.
        # Other tests share the run's topics (each test creates 12 topics otherwise, which a small
        # broker pays for in memory) and tell their events apart by aggregate id.
        run_topics = nullcontext(overrides["topic_prefix"])
        async with own_topics(infra, overrides["topic_prefix"]) if consumers else run_topics as prefix:
            settings = Settings(**overrides | {"topic_prefix": prefix}, consumers_enabled=consumers)
            async with running_app(create_app(settings, clock=clock)) as client:
                yield Catalogue(client=client, settings=settings, token=mint_token, infra=infra)

    return start


@pytest.fixture
async def catalogue(start_catalogue: Callable[..., Any]) -> AsyncIterator[Catalogue]:
    async with start_catalogue() as running:
        yield running


@pytest.fixture(scope="session")
def siret() -> Callable[[], str]:
    """``siret()``: a new valid SIRET each call."""
    counter = iter(range(uuid.uuid4().int % 1_000_000, 10**8))
    return lambda: make_siret(next(counter))
