"""Fixtures of the contributions tests: the real app on the real PostgreSQL and Kafka."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pytest
from contributions.adapters.repository import DeclarationVersion, StatementReport, StoredCredit
from contributions.app import create_app
from contributions.domain.collectivites import Collectivite
from contributions.domain.declarations import Declaration
from contributions.domain.matching import BankCredit, CreditMatch, MatchedBy
from contributions.domain.periods import ContributionPeriod
from contributions.domain.settlement import Payment, PeriodAccount
from contributions.settings import Settings
from dife_contracts import Envelope, topics
from dife_contracts.enums import Periodicity, PeriodStatus
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


class FakeRepository:
    """The `Repository` port in memory; it hands out copies, so an unsaved change is lost as in PostgreSQL."""

    def __init__(self) -> None:
        self.collectivites: dict[str, Collectivite] = {}
        self.calendars: dict[tuple[str, int], Periodicity] = {}
        self.periods: dict[tuple[str, str], PeriodAccount] = {}
        self.declarations: list[Declaration] = []
        self.payments: list[Payment] = []
        self.statements: dict[str, StatementReport] = {}
        self.credits: dict[str, tuple[BankCredit, CreditMatch]] = {}
        self.credit_statements: dict[str, uuid.UUID] = {}
        self.received_by: dict[uuid.UUID, str] = {}

    @staticmethod
    def _copy(account: PeriodAccount) -> PeriodAccount:
        return dataclasses.replace(account, events=[])

    async def collectivite(self, siren: str) -> Collectivite | None:
        return self.collectivites.get(siren)

    async def add_collectivite(self, collectivite: Collectivite) -> bool:
        return self.collectivites.setdefault(collectivite.siren, collectivite) is collectivite

    async def upsert_collectivites(self, found: Sequence[Collectivite]) -> int:
        self.collectivites.update({c.siren: c for c in found})
        return len(found)

    async def subject_collectivites(self, types: Iterable[str]) -> list[Collectivite]:
        wanted = set(types)
        return [c for c in self.collectivites.values() if c.type.value in wanted]

    async def known_sirens(self, sirens: Iterable[str]) -> frozenset[str]:
        return frozenset(s for s in sirens if s in self.collectivites)

    async def names_of(self, sirens: Iterable[str]) -> dict[str, str]:
        return {s: self.collectivites[s].name for s in sirens if s in self.collectivites}

    async def calendar(self, siren: str, year: int) -> Periodicity | None:
        return self.calendars.get((siren, year))

    async def fix_calendar(
        self, siren: str, year: int, periodicity: Periodicity, basis_cents: int
    ) -> Periodicity:
        return self.calendars.setdefault((siren, year), periodicity)

    async def calendars_of(self, years: Sequence[int]) -> dict[tuple[str, int], Periodicity]:
        return {key: value for key, value in self.calendars.items() if key[1] in years}

    async def declared_totals(self, years: Sequence[int]) -> dict[tuple[str, int], int]:
        totals: dict[tuple[str, int], int] = {}
        for (siren, _), account in self.periods.items():
            if account.period.year in years and account.declared_cents is not None:
                key = (siren, account.period.year)
                totals[key] = totals.get(key, 0) + account.declared_cents
        return totals

    async def fix_calendars(self, fixed: Sequence[tuple[str, int, Periodicity, int]]) -> None:
        for siren, year, periodicity, _ in fixed:
            self.calendars.setdefault((siren, year), periodicity)

    async def declared_total(self, siren: str, year: int) -> int | None:
        declared = [
            a.declared_cents
            for (s, _), a in self.periods.items()
            if s == siren and a.period.year == year and a.declared_cents is not None
        ]
        return sum(declared) if declared else None

    async def insert_periods(self, accounts: Sequence[PeriodAccount]) -> None:
        for account in accounts:
            self.periods.setdefault((account.siren, str(account.period)), self._copy(account))

    async def periods_for_update(
        self, keys: Iterable[tuple[str, str]]
    ) -> dict[tuple[str, str], PeriodAccount]:
        return {key: self._copy(self.periods[key]) for key in keys if key in self.periods}

    async def open_periods(self, sirens: Iterable[str]) -> dict[str, list[PeriodAccount]]:
        found: dict[str, list[PeriodAccount]] = {}
        for (siren, _), account in self.periods.items():
            if siren in set(sirens) and account.declared_cents is not None and account.outstanding_cents:
                found.setdefault(siren, []).append(self._copy(account))
        return found

    async def save_periods(self, accounts: Sequence[PeriodAccount]) -> None:
        for account in accounts:
            self.periods[(account.siren, str(account.period))] = self._copy(account)

    async def periods_of(self, siren: str, year: int) -> list[PeriodAccount]:
        return [self._copy(a) for (s, _), a in self.periods.items() if s == siren and a.period.year == year]

    async def open_periods_due_before(self, day: date) -> list[PeriodAccount]:
        return [
            self._copy(a)
            for a in self.periods.values()
            if a.status in (PeriodStatus.DUE, PeriodStatus.PARTIALLY_PAID) and a.due_date < day
        ]

    async def current_version(self, siren: str, period: str) -> int:
        versions = [d.version for d in self.declarations if d.siren == siren and str(d.period) == period]
        return max(versions, default=0)

    async def add_declaration(self, declaration: Declaration, received_by: str) -> None:
        self.declarations.append(declaration)
        self.received_by[declaration.id] = received_by

    async def declaration_history(self, siren: str, period: str | None) -> list[DeclarationVersion]:
        chosen = [
            d for d in self.declarations if d.siren == siren and (period is None or str(d.period) == period)
        ]
        return [
            DeclarationVersion(
                id=d.id,
                period=str(d.period),
                version=d.version,
                line_count=d.line_count,
                allowances_cents=d.allowances_cents,
                contribution_cents=d.contribution_cents,
                received_at=d.received_at,
                received_by=self.received_by[d.id],
            )
            for d in sorted(chosen, key=lambda d: (str(d.period), d.version))
        ]

    async def add_payments(self, added: Sequence[Payment]) -> None:
        self.payments.extend(added)

    async def statement(self, key: str) -> StatementReport | None:
        return self.statements.get(key)

    async def add_statement(self, report: StatementReport, imported_by: str) -> bool:
        return self.statements.setdefault(report.key, report) is report

    async def set_statement_counts(self, statement_id: uuid.UUID, credits: int, matched: int) -> None:
        for key, report in self.statements.items():
            if report.id == statement_id:
                self.statements[key] = dataclasses.replace(
                    report, credit_count=credits, matched_count=matched
                )

    async def recorded_entry_keys(self, keys: Iterable[str]) -> set[str]:
        return {key for key in keys if key in self.credits}

    async def add_credits(
        self, statement_id: uuid.UUID, matched: Sequence[tuple[BankCredit, CreditMatch]]
    ) -> None:
        self.credits.update({credit.entry_key: (credit, match) for credit, match in matched})
        self.credit_statements.update({credit.entry_key: statement_id for credit, _ in matched})

    def _entry_key_of(self, credit_id: uuid.UUID) -> str | None:
        return next((key for key, (credit, _) in self.credits.items() if credit.id == credit_id), None)

    async def credit_for_update(self, credit_id: uuid.UUID) -> StoredCredit | None:
        key = self._entry_key_of(credit_id)
        if key is None:
            return None
        credit, match = self.credits[key]
        return StoredCredit(
            id=credit.id,
            statement_id=self.credit_statements[key],
            amount_cents=credit.amount_cents,
            booked_on=credit.booked_on,
            reference=credit.reference,
            remittance=credit.remittance,
            debtor_name=credit.debtor_name,
            siren=match.siren,
            period=None if match.period is None else str(match.period),
            matched_by=match.matched_by,
            unmatched_reason=match.reason,
        )

    async def assign_credit(self, credit_id: uuid.UUID, siren: str, period: str, by: str) -> None:
        key = self._entry_key_of(credit_id)
        if key is not None:
            credit, _ = self.credits[key]
            assigned = CreditMatch(siren, ContributionPeriod.parse(period), MatchedBy.AGENT)
            self.credits[key] = (credit, assigned)


@pytest.fixture(scope="session")
def fake_repository() -> type[FakeRepository]:
    """The in-memory `Repository` (unit tests of use cases; the contract test runs it beside PostgreSQL's)."""
    return FakeRepository
