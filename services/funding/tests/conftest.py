"""Fixtures of funding's integration tests: its real migrations on a fresh PostgreSQL database, the app
running its lifespan (relay, consumers) on real Kafka with topics of its own, and the other contexts played by
publishing their events as their services would."""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from dife_contracts import Envelope, topics
from dife_contracts.enums import FundingSource, MandateFamily, RneFileType, TrainingPurpose
from dife_contracts.event import Event
from dife_contracts.events import DossierValidated, EluRegistered, Mandate, RightsCredited
from fastapi import FastAPI
from funding.adapters.repositories import CofundingRequest, EnvelopeWithCreation, PaymentIntent
from funding.app import create_app
from funding.consumers import dossier_handlers, ledger_handlers, payout_handlers
from funding.domain.balances import BalanceChange
from funding.domain.cofunding import Envelope as CofundingEnvelope
from funding.domain.cofunding import EnvelopeStatus
from funding.domain.plan import FundingPlan, LineStatus, PlanStatus
from funding.domain.policy import ConsumedExitPolicy
from funding.settings import Settings
from funding.use_cases.ports import Funding
from servicekit.clock import MovableClock
from servicekit.testing import Infra, collect, dispatch, eventually, migrate, own_topics, publish, running_app
from servicekit.testing.fakes import FakeOutbox, FakeScheduler
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"
PSP_SECRETS = ["psp-secret-current", "psp-secret-previous"]
SIRET = "12345678900011"
SIREN_A, SIREN_B = "213100017", "217500016"
COMMUNE_A, COMMUNE_B = "31555", "75056"
START, END = date(2027, 3, 15), date(2027, 3, 16)
DEADLINE = date(2027, 2, 5)

SOURCES = {
    topics.LEDGER: "/dife/rights-ledger",
    topics.DOSSIER: "/dife/dossier",
    topics.PAYOUT: "/dife/payout",
}


def validated(
    elu_id: UUID,
    price_cents: int,
    purpose: TrainingPurpose = TrainingPurpose.MANDATE,
    dossier_id: UUID | None = None,
) -> DossierValidated:
    return DossierValidated(
        dossier_id=dossier_id or uuid.uuid4(),
        elu_id=elu_id,
        offer_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        siret=SIRET,
        purpose=purpose,
        price_cents=price_cents,
        hours=Decimal("7"),
        training_start=START,
        training_end=END,
        validated_at=datetime(2027, 2, 1, 9, tzinfo=UTC),
        answer_deadline=DEADLINE,
    )


def credited(elu_id: UUID, amount_cents: int) -> RightsCredited:
    return RightsCredited(
        elu_id=elu_id,
        campaign_id=uuid.uuid4(),
        year=2026,
        family=MandateFamily.MUNICIPAL,
        amount_cents=amount_cents,
        capped=False,
        balance_after_cents=amount_cents,
        credited_on=date(2026, 3, 30),
    )


def registered(elu_id: UUID, commune: str = COMMUNE_A) -> EluRegistered:
    return EluRegistered(
        elu_id=elu_id,
        family_name="MARTIN",
        given_names="Claire",
        mandates=[
            Mandate(
                mandate_id=uuid.uuid4(),
                file_type=RneFileType.CM,
                family=MandateFamily.MUNICIPAL,
                collectivite_code=commune,
                collectivite_name="Commune",
                function="Conseillère municipale",
                start_date=date(2020, 6, 28),
            )
        ],
    )


@dataclass
class Stack:
    """The running funding app and the steps tests share."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings
    infra: Infra
    clock: MovableClock
    token: Callable[..., str]

    validated = staticmethod(validated)
    credited = staticmethod(credited)
    registered = staticmethod(registered)

    @property
    def sessionmaker(self) -> async_sessionmaker[AsyncSession]:
        maker: async_sessionmaker[AsyncSession] = self.app.state.kit.sessionmaker
        return maker

    def elu(self, elu_id: UUID) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=str(elu_id), roles=['elu'])}"}

    def agent(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=str(uuid.uuid4()), roles=['agent'])}"}

    def organisme(self, siret: str = SIRET) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=siret, roles=['organisme'], siret=siret)}"}

    def collectivite(self, siren: str = SIREN_A) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=siren, roles=['collectivite'], siren=siren)}"}

    async def own_code(self, code: str, siren: str) -> None:
        """An agent records that `siren` owns the collectivité code `code` (R-FUN-2)."""
        response = await self.client.put(
            f"/v1/collectivite-codes/{code}", json={"siren": siren}, headers=self.agent()
        )
        assert response.status_code == 200, response.text

    async def dispatch(self, event: Event, *, envelope: Envelope | None = None) -> bool:
        """Run funding's handler of `event` through the inbox, without Kafka (False: a replay, no effect)."""
        funding_for = self.app.state.kit.service.funding_for
        handlers = {
            topics.DOSSIER: dossier_handlers,
            topics.LEDGER: ledger_handlers,
            topics.PAYOUT: payout_handlers,
        }[event.topic](funding_for)
        return await dispatch(self.app, handlers, event, envelope=envelope)

    async def outbox(self, dossier_id: UUID) -> list[str]:
        """The event types funding wrote for a dossier, in order (with the relay off, rows stay)."""
        async with self.sessionmaker() as session:
            rows = await session.execute(
                text("SELECT ce_type FROM outbox WHERE ce_subject = :d ORDER BY id"), {"d": str(dossier_id)}
            )
            return [row.ce_type.split(".")[2] for row in rows]

    async def publish(self, event: Event, *, source: str | None = None) -> Envelope:
        return await publish(
            self.infra, self.settings.topic_prefix, event, source=source or SOURCES[event.topic]
        )

    async def replay(self, envelope: Envelope) -> None:
        """Send an already published envelope again, same id: a redelivery, as a consumer sees it."""
        topic = topics.LEDGER if envelope.type.startswith("dife.ledger.") else topics.DOSSIER
        await self.send_raw(topic, envelope)

    async def send_raw(self, logical_topic: str, envelope: Envelope) -> None:
        """Put an envelope on any topic, as a misbehaving producer could."""
        producer = AIOKafkaProducer(bootstrap_servers=self.infra.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                self.settings.topic(logical_topic),
                value=envelope.data,
                key=envelope.kafka_key(),
                headers=envelope.kafka_headers(),
            )
        finally:
            await producer.stop()

    async def funding_events(self, count: int, dossier_id: UUID, ce_type: str | None = None) -> list[Any]:
        """Funding's events of one dossier on Kafka, parsed, in order."""

        def wanted(envelope: Envelope) -> bool:
            return envelope.subject == str(dossier_id) and (
                ce_type is None or envelope.type == f"dife.funding.{ce_type}.v1"
            )

        found = await collect(self.infra, self.settings.topic(topics.FUNDING), count=count, where=wanted)
        return [envelope.parse() for envelope in found]

    async def plan(self, dossier_id: UUID) -> dict[str, Any]:
        response = await self.client.get(f"/v1/plans/{dossier_id}", headers=self.agent())
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def wait_plan(self, dossier_id: UUID, status: str, timeout_s: float = 30) -> dict[str, Any]:
        async def reached() -> bool:
            found = await self.scalar("SELECT status FROM plans WHERE dossier_id = :d", d=dossier_id)
            return bool(found == status)

        assert await eventually(reached, timeout_s=timeout_s), f"plan of {dossier_id} never {status}"
        return await self.plan(dossier_id)

    async def scalar(self, sql: str, **params: Any) -> Any:
        async with self.sessionmaker() as session:
            return await session.scalar(text(sql), params)

    async def wait_available(self, elu_id: UUID, cents: int) -> None:
        async def reached() -> bool:
            value = await self.scalar("SELECT available_cents FROM dife_balances WHERE elu_id = :e", e=elu_id)
            return value == cents

        assert await eventually(reached), f"read model never reached {cents} cents"

    async def wait_mandates(self, elu_id: UUID) -> None:
        async def known() -> bool:
            return await self.scalar("SELECT count(*) FROM elu_mandates WHERE elu_id = :e", e=elu_id) == 1

        assert await eventually(known)


@pytest.fixture
def start_funding(
    fresh_database_url: str,
    kit_overrides: Callable[[str], dict[str, Any]],
    mint_token: Callable[..., str],
    infra: Infra,
) -> Callable[..., Any]:
    @asynccontextmanager
    async def start(*, consumers: bool = True, **fields: Any) -> AsyncIterator[Stack]:
        await migrate(ALEMBIC_INI, fresh_database_url)
        overrides = kit_overrides(fresh_database_url)
        overrides["relay_poll_interval_s"] = 0.05
        overrides["jobs_enabled"] = False  # timers fire only by run_due_jobs, once a test moves the clock
        overrides.update(fields)
        async with own_topics(infra, overrides["topic_prefix"]) as prefix:
            overrides["topic_prefix"] = prefix
            settings = Settings(**overrides, consumers_enabled=consumers, psp_secrets=PSP_SECRETS)
            clock = MovableClock(datetime(2027, 2, 1, 10, tzinfo=UTC))
            app = create_app(settings, clock=clock)
            async with running_app(app) as client:
                running = Stack(
                    app=app, client=client, settings=settings, infra=infra, clock=clock, token=mint_token
                )
                # R-FUN-2: an agent's reference
                for code, siren in ((COMMUNE_A, SIREN_A), (COMMUNE_B, SIREN_B)):
                    await running.own_code(code, siren)
                yield running

    return start


@pytest.fixture
async def stack(start_funding: Callable[..., Any]) -> AsyncIterator[Stack]:
    async with start_funding() as running:
        yield running


@pytest.fixture
async def api_only(start_funding: Callable[..., Any]) -> AsyncIterator[Stack]:
    async with start_funding(consumers=False, relay_enabled=False) as running:
        yield running


# ---- in-memory fakes of the repositories (unit tests; kept honest by test_fakes_contract.py)


class CheckViolation(Exception):
    """What PostgreSQL would raise for a broken CHECK or unique key."""


@dataclass
class FakePlans:
    rows: dict[UUID, FundingPlan] = field(default_factory=dict)

    async def get(self, dossier_id: UUID, *, for_update: bool = False) -> FundingPlan | None:
        found = self.rows.get(dossier_id)
        return copy.deepcopy(found) if found else None

    async def add(self, plan: FundingPlan) -> bool:
        if plan.dossier_id in self.rows:
            return False
        self.rows[plan.dossier_id] = copy.deepcopy(plan)
        return True

    async def save(self, plan: FundingPlan) -> None:
        stored = copy.deepcopy(plan)
        stored.events, stored.ended_topups = [], []
        self.rows[plan.dossier_id] = stored


@dataclass
class FakeBalances:
    plans: FakePlans
    available: dict[UUID, int] = field(default_factory=dict)

    async def locked_available(self, elu_id: UUID) -> int:
        return self.available.get(elu_id, 0)

    async def apply(self, elu_id: UUID, change: BalanceChange) -> None:
        self.available[elu_id] = change.applied_to(self.available.get(elu_id, 0))

    async def in_flight_cents(self, elu_id: UUID) -> int:
        return sum(
            line.amount_cents
            for plan in self.plans.rows.values()
            if plan.elu_id == elu_id and plan.status is PlanStatus.PROPOSED
            for line in plan.lines
            if line.source is FundingSource.DIFE and line.status is LineStatus.PENDING
        )


@dataclass
class FakeMandates:
    rows: dict[UUID, list[tuple[str, date, date | None]]] = field(default_factory=dict)

    async def replace(self, elu_id: UUID, mandates: Sequence[tuple[str, date, date | None]]) -> None:
        self.rows[elu_id] = list(mandates)

    async def of(self, elu_id: UUID) -> list[tuple[str, date, date | None]]:
        return list(self.rows.get(elu_id, []))


@dataclass
class FakeEnvelopes:
    rows: dict[UUID, CofundingEnvelope] = field(default_factory=dict)
    per_elu: dict[tuple[UUID, UUID], int] = field(default_factory=dict)

    async def add(self, envelope: CofundingEnvelope) -> None:
        self.rows[envelope.envelope_id] = copy.deepcopy(envelope)

    async def get(self, envelope_id: UUID, *, for_update: bool = False) -> CofundingEnvelope | None:
        found = self.rows.get(envelope_id)
        return copy.deepcopy(found) if found else None

    async def list_of(
        self, siren: str | None, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[EnvelopeWithCreation]:
        at = datetime(2027, 1, 1, tzinfo=UTC)
        return [
            EnvelopeWithCreation(copy.deepcopy(e), at) for e in self.rows.values() if siren in (None, e.siren)
        ]

    async def set_status(self, envelope: CofundingEnvelope) -> None:
        self.rows[envelope.envelope_id].status = envelope.status

    async def lock_candidates(self, codes: Sequence[str], start: date, end: date) -> list[CofundingEnvelope]:
        return [
            copy.deepcopy(e)
            for e in sorted(self.rows.values(), key=lambda e: e.envelope_id)
            if e.collectivite_code in codes and e.status is EnvelopeStatus.OPEN and e.covers(start, end)
        ]

    async def elu_reserved(self, envelope_ids: Sequence[UUID], elu_id: UUID) -> dict[UUID, int]:
        return {e: self.per_elu[(e, elu_id)] for e in envelope_ids if (e, elu_id) in self.per_elu}

    async def reserve(self, envelope: CofundingEnvelope, elu_id: UUID, amount_cents: int) -> None:
        stored = self.rows[envelope.envelope_id]
        elu = self.per_elu.get((envelope.envelope_id, elu_id), 0) + amount_cents
        if stored.reserved_cents + amount_cents > stored.budget_cents or elu > stored.per_elu_ceiling_cents:
            raise CheckViolation("envelopes_within_budget / elu_within_ceiling")
        stored.reserved_cents += amount_cents
        self.per_elu[(envelope.envelope_id, elu_id)] = elu

    async def give_back(self, envelope_id: UUID, elu_id: UUID, amount_cents: int) -> None:
        if amount_cents <= 0:
            return
        self.rows[envelope_id].reserved_cents -= amount_cents
        self.per_elu[(envelope_id, elu_id)] -= amount_cents
        if self.rows[envelope_id].reserved_cents < 0 or self.per_elu[(envelope_id, elu_id)] < 0:
            raise CheckViolation("reserved_cents >= 0")


@dataclass
class FakeRequests:
    rows: dict[UUID, CofundingRequest] = field(default_factory=dict)

    async def add(self, request: CofundingRequest) -> None:
        if any(
            r.envelope_id == request.envelope_id and r.dossier_id == request.dossier_id
            for r in self.rows.values()
        ):
            raise CheckViolation("one_request_per_envelope_and_dossier")
        self.rows[request.request_id] = copy.deepcopy(request)

    async def get(self, request_id: UUID) -> CofundingRequest | None:
        found = self.rows.get(request_id)
        return copy.deepcopy(found) if found else None

    async def envelopes_asked(self, dossier_id: UUID) -> set[UUID]:
        return {r.envelope_id for r in self.rows.values() if r.dossier_id == dossier_id}

    async def set_status(self, request_id: UUID, status: str, granted_cents: int | None = None) -> None:
        self.rows[request_id].status = status
        if granted_cents is not None:
            self.rows[request_id].granted_cents = granted_cents

    async def set_amounts(self, request_id: UUID, requested_cents: int, granted_cents: int | None) -> None:
        self.rows[request_id].requested_cents = requested_cents
        self.rows[request_id].granted_cents = granted_cents

    async def list_of(
        self, siren: str | None, status: str | None, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[CofundingRequest]:
        return [r for r in self.rows.values() if siren in (None, r.siren) and status in (None, r.status)]


@dataclass
class FakePayments:
    rows: dict[UUID, PaymentIntent] = field(default_factory=dict)
    notifications: set[str] = field(default_factory=set)

    async def add(self, intent: PaymentIntent) -> None:
        self.rows[intent.intent_id] = copy.deepcopy(intent)

    async def get(self, intent_id: UUID, *, for_update: bool = False) -> PaymentIntent | None:
        found = self.rows.get(intent_id)
        return copy.deepcopy(found) if found else None

    async def pending_of(self, dossier_id: UUID) -> list[PaymentIntent]:
        return [
            copy.deepcopy(i)
            for i in self.rows.values()
            if i.dossier_id == dossier_id and i.status == "pending"
        ]

    async def set_status(self, intent_id: UUID, status: str, provider_reference: str | None = None) -> None:
        self.rows[intent_id].status = status
        self.rows[intent_id].provider_reference = provider_reference

    async def record_notification(self, notification_id: str, intent_id: UUID, amount_cents: int) -> bool:
        if notification_id in self.notifications:
            return False
        self.notifications.add(notification_id)
        return True


@dataclass
class FakeCodes:
    owners: dict[str, str] = field(default_factory=dict)

    async def owner_of(self, collectivite_code: str) -> str | None:
        return self.owners.get(collectivite_code)

    async def register(self, collectivite_code: str, siren: str, registered_by: str) -> str:
        return self.owners.setdefault(collectivite_code, siren)


@pytest.fixture
def funding() -> Funding:
    """Funding on in-memory fakes (unit tests)."""
    return fake_funding()


def fake_funding() -> Funding:
    plans = FakePlans()
    return Funding(
        plans=plans,
        balances=FakeBalances(plans),
        mandates=FakeMandates(),
        envelopes=FakeEnvelopes(),
        requests=FakeRequests(),
        payments=FakePayments(),
        codes=FakeCodes(),
        outbox=FakeOutbox(),
        scheduler=FakeScheduler(),
        clock=MovableClock(datetime(2027, 2, 1, 9, tzinfo=UTC)),
        policy=ConsumedExitPolicy(),
        max_hold_attempts=3,
    )
