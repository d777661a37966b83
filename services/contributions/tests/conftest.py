"""Fixtures of the contributions tests: the real app on the real PostgreSQL and Kafka."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from contributions.app import create_app
from contributions.settings import Settings
from dife_contracts import Envelope, topics
from fastapi import FastAPI
from servicekit.clock import MovableClock
from servicekit.testing import Infra, collect, migrate, run_due_jobs, running_app
from stdnum import luhn

ALEMBIC_INI = Path(__file__).resolve().parents[1] / "alembic.ini"


def make_siren(seed: int) -> str:
    """A SIREN with a valid Luhn key, different for each seed."""
    body = f"{21_000_000 + seed:08d}"
    return body + luhn.calc_check_digit(body)


@dataclass
class Contributions:
    """The running app, its clock and the steps most tests share, each asserting its own success."""

    client: httpx.AsyncClient
    settings: Settings
    clock: MovableClock
    token: Callable[..., str]
    infra: Infra
    app: FastAPI

    @property
    def sessionmaker(self) -> Any:
        return self.app.state.kit.sessionmaker

    async def run_due_jobs(self) -> int:
        """Fire every timer due by the app's clock (the late sweep), as the job runner would."""
        return await run_due_jobs(self.app)

    def agent(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=str(uuid.uuid4()), roles=['agent'])}"}

    def ops(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=str(uuid.uuid4()), roles=['ops'])}"}

    def collectivite(self, siren: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(sub=siren, roles=['collectivite'], siren=siren)}"}

    async def register(
        self, siren: str, *, type: str = "commune", reference_annual_cents: int | None = 400_000
    ) -> dict[str, Any]:
        response = await self.client.post(
            "/v1/collectivites",
            json={
                "siren": siren,
                "name": f"Commune {siren}",
                "type": type,
                "reference_annual_cents": reference_annual_cents,
            },
            headers=self.agent(),
        )
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def declare(self, siren: str, period: str, *amounts: int, **kwargs: Any) -> httpx.Response:
        month = period if len(period) == 7 and "Q" not in period else None
        lines = [
            {
                "month": month or f"{period[:4]}-01",
                "gross_allowance_cents": cents,
                "family_name": "DUPONT",
                "given_names": "Marie",
                "birth_date": "1970-05-02",
            }
            for cents in amounts
        ]
        return await self.client.post(
            f"/v1/collectivites/{siren}/declarations",
            json={"period": period, "lines": lines},
            headers=kwargs.get("headers") or self.collectivite(siren),
        )

    async def periods(self, siren: str, year: int = 2026) -> dict[str, dict[str, Any]]:
        response = await self.client.get(
            f"/v1/collectivites/{siren}/periods", params={"year": year}, headers=self.agent()
        )
        assert response.status_code == 200, response.text
        return {p["period"]: p for p in response.json()["periods"]}

    async def events(self, count: int, *, subject: str, ce_type: str | None = None) -> list[Envelope]:
        def wanted(envelope: Envelope) -> bool:
            return envelope.subject == subject and (
                ce_type is None or envelope.type == f"dife.contributions.{ce_type}.v1"
            )

        return await collect(self.infra, self.settings.topic(topics.CONTRIBUTIONS), count=count, where=wanted)


def camt053(*entries: dict[str, Any], message_id: str | None = None, statement_id: str = "STMT-1") -> bytes:
    """A camt.053.001.08 statement; each entry: amount ("12.35"), ref (RF…), text (Ustrd), debtor, sign,
    status, account_ref, currency."""
    ntries = []
    for number, entry in enumerate(entries, start=1):
        reference = (
            f"<Strd><CdtrRefInf><Tp><CdOrPrtry><Cd>SCOR</Cd></CdOrPrtry></Tp><Ref>{entry['ref']}</Ref>"
            "</CdtrRefInf></Strd>"
            if entry.get("ref")
            else ""
        )
        text = f"<Ustrd>{entry['text']}</Ustrd>" if entry.get("text") else ""
        ntries.append(
            f"""<Ntry><NtryRef>{number}</NtryRef>
            <Amt Ccy="{entry.get("currency", "EUR")}">{entry["amount"]}</Amt>
            <CdtDbtInd>{entry.get("sign", "CRDT")}</CdtDbtInd>
            <Sts><Cd>{entry.get("status", "BOOK")}</Cd></Sts>
            <BookgDt><Dt>{entry.get("booked", "2026-04-10")}</Dt></BookgDt>
            <AcctSvcrRef>{entry.get("account_ref", f"{statement_id}-{number}")}</AcctSvcrRef>
            <BkTxCd/>
            <NtryDtls><TxDtls>
              <RltdPties><Dbtr><Pty><Nm>{entry.get("debtor", "TRESORERIE")}</Nm></Pty></Dbtr></RltdPties>
              <RmtInf>{text}{reference}</RmtInf>
            </TxDtls></NtryDtls></Ntry>"""
        )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">
  <BkToCstmrStmt>
    <GrpHdr><MsgId>{message_id or uuid.uuid4().hex}</MsgId><CreDtTm>2026-04-11T06:00:00</CreDtTm></GrpHdr>
    <Stmt><Id>{statement_id}</Id><CreDtTm>2026-04-11T06:00:00</CreDtTm>
      <Acct><Id><IBAN>FR7640031000010000000000000</IBAN></Id></Acct>
      {"".join(ntries)}
    </Stmt>
  </BkToCstmrStmt>
</Document>""".encode()


@pytest.fixture(scope="session")
def start_contributions(
    database_factory: Callable[[], Awaitable[str]],
    kit_overrides: Callable[[str], dict[str, Any]],
    mint_token: Callable[..., str],
    infra: Infra,
) -> Callable[..., Any]:
    @asynccontextmanager
    async def start(today: date = date(2026, 4, 2)) -> AsyncIterator[Contributions]:
        database_url = await database_factory()
        await migrate(ALEMBIC_INI, database_url)
        settings = Settings(**kit_overrides(database_url), jobs_enabled=False)
        clock = MovableClock()
        clock.set_paris(today, 10)
        app = create_app(settings, clock=clock)
        async with running_app(app) as client:
            yield Contributions(
                client=client,
                settings=settings,
                clock=clock,
                token=mint_token,
                infra=infra,
                app=app,
            )

    return start


@pytest.fixture
async def contributions(start_contributions: Callable[..., Any]) -> AsyncIterator[Contributions]:
    async with start_contributions() as running:
        yield running


@pytest.fixture(scope="session")
def siren() -> Callable[[], str]:
    """``siren()``: a new valid SIREN each call."""
    counter = iter(range(uuid.uuid4().int % 1_000_000, 10**8))
    return lambda: make_siren(next(counter))


@pytest.fixture(scope="session")
def camt() -> Callable[..., bytes]:
    """``camt(entry, …)``: a camt.053 statement (see `camt053`)."""
    return camt053
