"""Fixtures of the payout tests: the real app on the real PostgreSQL and Kafka (servicekit fixtures)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from dife_contracts import Envelope, Event, topics
from dife_contracts.enums import FundingSource
from fastapi import FastAPI
from payout.adapters.repository import DossierRepository, Outcome, PaymentRepository, Plan
from payout.app import create_app
from payout.domain.allocation import PlanLine
from payout.settings import Settings
from payout.use_cases import settlement
from servicekit.clock import MovableClock
from servicekit.outbox import SessionOutbox
from servicekit.testing import Infra, collect, eventually, migrate, own_topics, publish, running_app
from stdnum import luhn

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"

SOURCES = {
    topics.LEDGER: "/dife/rights-ledger",
    topics.DOSSIER: "/dife/dossier",
    topics.FUNDING: "/dife/funding",
    topics.CONTRIBUTIONS: "/dife/contributions",
}

IBANS = ["FR7630004000000001234567845", "FR7620041000000000012345662", "FR7630002000000000065432164"]
BICS = ["BNPAFRPP", "PSSTFRPP", "CRLYFRPPXXX"]


def make_siret(seed: int) -> str:
    siren = f"{42_000_000 + seed:08d}"
    siren += luhn.calc_check_digit(siren)
    body = f"{siren}0001"
    return body + luhn.calc_check_digit(body)


@dataclass
class Payout:
    """The running app and the steps most tests share, each asserting its own success."""

    client: httpx.AsyncClient
    app: FastAPI
    settings: Settings
    clock: MovableClock
    token: Callable[..., str]
    infra: Infra
    published: list[Envelope] = field(default_factory=list)

    def agent(self, sub: str | None = None) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=sub or str(uuid.uuid4()), roles=['agent'])}"}

    def token_headers(self, *roles: str, sub: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=sub, roles=list(roles))}"}

    def ops(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=str(uuid.uuid4()), roles=['ops'])}"}

    def organisme(self, siret: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=f'of-{siret}', roles=['organisme'], siret=siret)}"}

    async def publish(self, event: Event) -> Envelope:
        envelope = await publish(self.infra, self.settings.topic_prefix, event, source=SOURCES[event.topic])
        self.published.append(envelope)
        return envelope

    async def republish(self, envelope: Envelope) -> None:
        """The same envelope again (same ce_id), as Kafka redelivers after a crash."""
        producer = AIOKafkaProducer(bootstrap_servers=self.infra.kafka_bootstrap)
        await producer.start()
        try:
            await producer.send_and_wait(
                self.settings.topic(_topic_of(envelope)),
                value=envelope.data,
                key=envelope.kafka_key(),
                headers=envelope.kafka_headers(),
            )
        finally:
            await producer.stop()

    async def events(
        self, count: int, *, where: Callable[[Envelope], bool] | None = None, timeout_s: float = 60.0
    ) -> list[Envelope]:
        """Payout's events on Kafka, read from the beginning, in order (fewer if the time runs out)."""
        return await collect(
            self.infra, self.settings.topic(topics.PAYOUT), count=count, where=where, timeout_s=timeout_s
        )

    async def verified_payee(self, siret: str, iban: str = IBANS[0], bic: str = BICS[0]) -> dict[str, Any]:
        proposed = await self.client.post(
            f"/v1/organismes/{siret}/bank-details",
            json={"iban": iban, "bic": bic, "holder_name": "Institut de formation des élus"},
            headers=self.organisme(siret),
        )
        assert proposed.status_code == 201, proposed.text
        verified = await self.client.post(
            f"/v1/bank-details/{proposed.json()['id']}/decision",
            json={"decision": "verify"},
            headers=self.agent(),
        )
        assert verified.status_code == 200, verified.text
        return dict(verified.json())

    async def payments(self, **params: Any) -> list[dict[str, Any]]:
        response = await self.client.get("/v1/payments", params=params, headers=self.agent())
        assert response.status_code == 200, response.text
        return list(response.json()["items"])

    async def payment_of(self, dossier_id: uuid.UUID) -> dict[str, Any]:
        found: list[dict[str, Any]] = []

        async def arrived() -> bool:
            found[:] = [p for p in await self.payments(limit=200) if p["dossier_id"] == str(dossier_id)]
            return bool(found)

        assert await eventually(arrived, timeout_s=60), f"no payment for dossier {dossier_id}"
        return found[0]

    async def order(
        self,
        siret: str,
        *,
        price_cents: int = 80_000,
        percent: int = 100,
        lines: list[PlanLine] | None = None,
        validated_on: date = date(2027, 1, 14),
    ) -> uuid.UUID:
        """A dossier's plan and service done, through the same use cases the consumers call (no Kafka)."""
        dossier_id, elu_id = uuid.uuid4(), uuid.uuid4()
        plan = Plan(dossier_id, elu_id, price_cents, lines or [PlanLine(FundingSource.DIFE, price_cents)])
        outcome = Outcome(
            dossier_id, elu_id, settlement.SERVICE_DONE, siret, price_cents, percent, validated_on, False
        )
        async with self.app.state.kit.sessionmaker.begin() as session:
            dossiers, payments, outbox = (
                DossierRepository(session),
                PaymentRepository(session),
                SessionOutbox(session),
            )
            await settlement.record_plan(dossiers, payments, outbox, plan, self.clock.now())
            await settlement.record_outcome(dossiers, payments, outbox, outcome, self.clock.now())
        return dossier_id


def _topic_of(envelope: Envelope) -> str:
    context = envelope.type.split(".")[1]
    return {
        "ledger": topics.LEDGER,
        "dossier": topics.DOSSIER,
        "funding": topics.FUNDING,
        "contributions": topics.CONTRIBUTIONS,
    }[context]


@pytest.fixture(scope="session")
def start_payout(
    database_factory: Callable[[], Awaitable[str]],
    kit_overrides: Callable[[str], dict[str, Any]],
    mint_token: Callable[..., str],
    infra: Infra,
) -> Callable[..., Any]:
    """``async with start_payout(consumers=True) as payout``: a migrated database, the running app."""

    @asynccontextmanager
    async def start(*, consumers: bool = False, **settings: Any) -> AsyncIterator[Payout]:
        database_url = await database_factory()
        await migrate(ALEMBIC_INI, database_url)
        overrides = kit_overrides(database_url)
        # A consumer reads its topics from the start: topics of its own keep other tests' events away.
        run_topics = nullcontext(overrides["topic_prefix"])
        async with own_topics(infra, overrides["topic_prefix"]) if consumers else run_topics as prefix:
            # Timers fire only through run_due_jobs, when a test moves the clock (no runner racing it).
            config = Settings(
                **overrides | {"topic_prefix": prefix},
                consumers_enabled=consumers,
                jobs_enabled=False,
                **settings,
            )
            clock = MovableClock(datetime(2027, 1, 15, 9, tzinfo=UTC))
            app = create_app(config, clock=clock)
            async with running_app(app) as client:

                async def assigned() -> bool:
                    return all(consumer.assigned for consumer in app.state.kit.consumers)

                assert await eventually(assigned, timeout_s=60), "the consumers never got their partitions"
                yield Payout(
                    client=client, app=app, settings=config, clock=clock, token=mint_token, infra=infra
                )

    return start


@pytest.fixture
async def payout(start_payout: Callable[..., Any]) -> AsyncIterator[Payout]:
    async with start_payout() as running:
        yield running


@pytest.fixture
async def payout_consuming(start_payout: Callable[..., Any]) -> AsyncIterator[Payout]:
    async with start_payout(consumers=True) as running:
        yield running


@pytest.fixture(scope="session")
def siret() -> Callable[[], str]:
    """``siret()``: a new valid SIRET each call."""
    counter = iter(range(uuid.uuid4().int % 1_000_000, 10**8))
    return lambda: make_siret(next(counter))


def pain002(
    message_id: str, statuses: list[tuple[str, str, str | None]], *, group: str | None = None
) -> bytes:
    """A pain.002.001.10 status report: (end-to-end id, TxSts, reason code) per transfer."""
    transactions = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>{status}</TxSts>"
        + (f"<StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf>" if reason else "")
        + "</TxInfAndSts>"
        for e2e, status, reason in statuses
    )
    group_status = f"<GrpSts>{group}</GrpSts>" if group else ""
    payment_info = (
        f"<OrgnlPmtInfAndSts><OrgnlPmtInfId>P1</OrgnlPmtInfId>{transactions}</OrgnlPmtInfAndSts>"
        if transactions
        else ""
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.10"><CstmrPmtStsRpt>'
        f"<GrpHdr><MsgId>R-{uuid.uuid4().hex[:20]}</MsgId><CreDtTm>2027-01-16T10:00:00</CreDtTm></GrpHdr>"
        f"<OrgnlGrpInfAndSts><OrgnlMsgId>{message_id}</OrgnlMsgId><OrgnlMsgNmId>pain.001.001.09</OrgnlMsgNmId>"
        f"{group_status}</OrgnlGrpInfAndSts>{payment_info}</CstmrPmtStsRpt></Document>"
    ).encode()


def today() -> date:
    return date(2027, 1, 15)
