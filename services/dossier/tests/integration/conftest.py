"""The dossier app on the real PostgreSQL and Kafka, with a `MovableClock`; other contexts' events are fed
through the real handlers and inbox (`servicekit.testing.dispatch`) or published on Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from dife_contracts import Envelope, Event, topics
from dife_contracts.enums import MandateFamily, Modality, RneFileType, TrainingPurpose
from dife_contracts.events import (
    AccountActivated,
    EluRegistered,
    Mandate,
    OfferLocation,
    OfferPublished,
    OfferSession,
    OrganismeRegistered,
    PlanLine,
    PlanReady,
)
from dossier.app import create_app
from dossier.consumers.handlers import build_handlers
from dossier.settings import Settings
from fastapi import FastAPI
from servicekit.clock import MovableClock
from servicekit.consumer import EventHandlers
from servicekit.testing import Infra, collect, dispatch, migrate, own_topics, run_due_jobs, running_app

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
START = date(2027, 3, 15)  # a Monday
PRICE = 56_000


@dataclass
class Running:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    clock: MovableClock
    handlers: EventHandlers
    token: Callable[..., str]
    infra: Infra
    database_url: str

    # ---- tokens --------------------------------------------------------------------------------------

    def elu(self, elu_id: uuid.UUID) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=str(elu_id), roles=['elu'])}"}

    def organisme(self, siret: str) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.token(sub=f'user-{siret}', roles=['organisme'], siret=siret)}"
        }

    def agent(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub='agent-1', roles=['agent'])}"}

    # ---- other contexts ------------------------------------------------------------------------------

    async def feed(self, event: Event, envelope: Envelope | None = None) -> bool:
        return await dispatch(self.app, self.handlers, event, envelope=envelope)

    async def elu_with_account(self, *, active: bool = True) -> uuid.UUID:
        elu_id = uuid.uuid4()
        mandate = Mandate(
            mandate_id=uuid.uuid4(),
            file_type=RneFileType.CM,
            family=MandateFamily.MUNICIPAL,
            collectivite_code="69123",
            collectivite_name="Lyon",
            function="Conseiller municipal",
            start_date=date(2020, 3, 15),
        )
        await self.feed(
            EluRegistered(elu_id=elu_id, family_name="Martin", given_names="Claire", mandates=[mandate])
        )
        if active:
            await self.feed(AccountActivated(elu_id=elu_id, activated_at=datetime(2026, 1, 5, tzinfo=UTC)))
        return elu_id

    async def offer(
        self, siret: str, *, capacity: int = 15, start: date = START, department: str = "69"
    ) -> tuple[uuid.UUID, uuid.UUID]:
        await self.feed(OrganismeRegistered(siret=siret, name=f"Institut {siret[-4:]}", nda="84691234569"))
        offer_id, session_id = uuid.uuid4(), uuid.uuid4()
        await self.feed(
            OfferPublished(
                offer_id=offer_id,
                siret=siret,
                kind=TrainingPurpose.MANDATE,
                title="Finances locales : construire et voter le budget",
                theme_code="FAL-03",
                hours=Decimal("7"),
                price_ht_cents=PRICE,
                price_ttc_cents=PRICE,
                vat_rate_bp=0,
                modality=Modality.IN_PERSON,
                location=OfferLocation(
                    commune_insee="69123",
                    postal_code="69001",
                    city="Lyon",
                    department=department,
                    region="84",
                ),
                sessions=[
                    OfferSession(session_id=session_id, start_date=start, end_date=start, capacity=capacity)
                ],
                published_at=datetime(2027, 1, 10, tzinfo=UTC),
            )
        )
        return offer_id, session_id

    async def plan_ready(self, dossier: dict[str, Any]) -> None:
        await self.feed(
            PlanReady(
                dossier_id=uuid.UUID(dossier["id"]),
                elu_id=uuid.UUID(dossier["elu_id"]),
                price_cents=dossier["price_cents"],
                lines=[PlanLine(source="dife", amount_cents=dossier["price_cents"])],
            )
        )

    # ---- the API -------------------------------------------------------------------------------------

    async def submit(self, elu_id: uuid.UUID, offer_id: uuid.UUID, session_id: uuid.UUID) -> httpx.Response:
        return await self.client.post(
            "/v1/dossiers",
            json={"offer_id": str(offer_id), "session_id": str(session_id)},
            headers=self.elu(elu_id),
        )

    async def submitted(
        self, elu_id: uuid.UUID, offer_id: uuid.UUID, session_id: uuid.UUID
    ) -> dict[str, Any]:
        response = await self.submit(elu_id, offer_id, session_id)
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def post(
        self, path: str, headers: dict[str, str], body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self.client.post(path, json=body or {}, headers=headers)
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    async def get(self, dossier_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/dossiers/{dossier_id}", headers=self.agent())
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def fire_timers(self) -> int:
        return await run_due_jobs(self.app)

    async def events(self, count: int, subject: str, timeout_s: float = 20.0) -> list[Envelope]:
        return await collect(
            self.infra,
            self.settings.topic(topics.DOSSIER),
            count=count,
            timeout_s=timeout_s,
            where=lambda envelope: envelope.subject == subject,
        )


StartDossier = Callable[..., Any]


@pytest.fixture(scope="session")
def start_dossier(
    database_factory: Callable[[], Awaitable[str]],
    kit_overrides: Callable[[str], dict[str, Any]],
    mint_token: Callable[..., str],
    infra: Infra,
) -> StartDossier:
    """``async with start_dossier(clock=…, database_url=…)``: the migrated app (the same database again
    after a "restart"), jobs fired by the test unless `jobs=True` starts the app's own runner."""

    @asynccontextmanager
    async def start(
        *,
        clock: MovableClock | None = None,
        database_url: str | None = None,
        jobs: bool = False,
        consumers: bool = False,
        topic_prefix: str | None = None,
    ) -> AsyncIterator[Running]:
        if database_url is None:
            database_url = await database_factory()
            await migrate(ALEMBIC_INI, database_url)
        overrides = kit_overrides(database_url)
        # Topics of its own, unless the test gives the ones it keeps across a restart (and deletes itself).
        topics_of_its_own = own_topics(infra, overrides["topic_prefix"])
        async with nullcontext(topic_prefix) if topic_prefix else topics_of_its_own as prefix:
            settings = Settings(
                **overrides | {"topic_prefix": prefix}, consumers_enabled=consumers, jobs_enabled=jobs
            )
            if clock is None:
                clock = MovableClock()
                clock.set_paris(date(2027, 2, 1), 10)  # Monday
            app = create_app(settings, clock=clock)
            async with running_app(app) as client:
                yield Running(
                    app=app,
                    client=client,
                    settings=settings,
                    clock=clock,
                    handlers=build_handlers(clock),
                    token=mint_token,
                    infra=infra,
                    database_url=database_url,
                )

    return start


@pytest.fixture
async def dossier_app(start_dossier: StartDossier) -> AsyncIterator[Running]:
    async with start_dossier() as running:
        yield running


@pytest.fixture(scope="session")
def siret() -> Callable[[], str]:
    """``siret()``: a new 14-digit SIRET each call."""
    counter = iter(range(uuid.uuid4().int % 1_000_000, 10**8))
    return lambda: f"{next(counter):014d}"
