"""One contract, two repositories: the in-memory fake the use-case tests trust behaves as PostgreSQL's."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from contributions.adapters.repository import ContributionsRepository, StatementReport
from contributions.domain.collectivites import Collectivite, CollectiviteType
from contributions.domain.declarations import Declaration
from contributions.domain.matching import BankCredit, CreditMatch, MatchedBy
from contributions.domain.periods import ContributionPeriod
from contributions.domain.policy import DEFAULT_POLICY
from contributions.domain.settlement import PeriodAccount
from contributions.use_cases.periods import new_account
from dife_contracts.enums import Periodicity, PeriodStatus
from servicekit.testing import migrate
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
A, B = "217500016", "200054781"


@pytest.fixture(params=["fake", "postgresql"])
async def repository(
    request: pytest.FixtureRequest,
    fake_repository: type[Any],
    database_factory: Callable[[], Awaitable[str]],
) -> AsyncIterator[Any]:
    if request.param == "fake":
        yield fake_repository()
        return
    url = await database_factory()
    await migrate(ALEMBIC_INI, url)
    engine = create_async_engine(url)
    try:
        async with (
            engine.connect() as connection,
            connection.begin(),
            AsyncSession(bind=connection) as session,
        ):
            yield ContributionsRepository(session)
    finally:
        await engine.dispose()


def account(siren: str, period: str) -> PeriodAccount:
    return new_account(siren, ContributionPeriod.parse(period), DEFAULT_POLICY)


async def registered(repository: Any) -> None:
    for siren in (A, B):
        collectivite = Collectivite(siren, f"C {siren}", CollectiviteType.COMMUNE, date(2025, 1, 1), 1_000)
        assert await repository.add_collectivite(collectivite)


async def test_a_collectivite_is_registered_once(repository: Any) -> None:
    await registered(repository)
    again = Collectivite(A, "Other", CollectiviteType.REGION, date(2026, 1, 1))
    assert not await repository.add_collectivite(again)
    found = await repository.collectivite(A)
    assert found is not None and found.name == f"C {A}" and found.type is CollectiviteType.COMMUNE
    assert await repository.known_sirens([A, "999999999"]) == frozenset({A})


async def test_the_first_calendar_fixed_for_a_year_stays(repository: Any) -> None:
    await registered(repository)
    assert await repository.fix_calendar(A, 2026, Periodicity.MONTHLY, 400_000) is Periodicity.MONTHLY
    assert await repository.fix_calendar(A, 2026, Periodicity.YEARLY, 0) is Periodicity.MONTHLY
    await repository.fix_calendars(
        [(A, 2026, Periodicity.YEARLY, 0), (B, 2026, Periodicity.QUARTERLY, 60_000)]
    )
    assert await repository.calendars_of([2026]) == {
        (A, 2026): Periodicity.MONTHLY,
        (B, 2026): Periodicity.QUARTERLY,
    }


async def test_periods_are_created_once_and_only_saved_changes_persist(repository: Any) -> None:
    await registered(repository)
    await repository.insert_periods([account(A, "2026-01"), account(A, "2026-02"), account(B, "2026-Q1")])
    locked = await repository.periods_for_update([(A, "2026-01"), (A, "2026-02")])
    january, february = locked[(A, "2026-01")], locked[(A, "2026-02")]
    january.record_declaration(1_000, date(2026, 2, 1))
    february.record_declaration(2_000, date(2026, 2, 1))
    await repository.save_periods([january])
    await repository.insert_periods([account(A, "2026-01")])  # exists: left as it is
    again = await repository.periods_for_update([(A, "2026-01"), (A, "2026-02")])
    assert again[(A, "2026-01")].declared_cents == 1_000
    assert again[(A, "2026-02")].declared_cents is None  # never saved
    assert await repository.declared_total(A, 2026) == 1_000
    assert await repository.declared_total(B, 2026) is None
    assert await repository.declared_totals([2026]) == {(A, 2026): 1_000}
    assert list(await repository.open_periods([A])) == [A]
    due = await repository.open_periods_due_before(date(2026, 3, 16))
    assert sorted((a.siren, str(a.period)) for a in due) == [(A, "2026-01"), (A, "2026-02")]
    assert all(a.status is PeriodStatus.DUE for a in due)


async def test_a_statement_and_its_credits_are_recorded_once(repository: Any) -> None:
    report = StatementReport(uuid.uuid4(), "M1/S1", datetime(2026, 4, 10, tzinfo=UTC), 0, 0)
    assert await repository.add_statement(report, "ops")
    assert not await repository.add_statement(
        StatementReport(uuid.uuid4(), "M1/S1", report.imported_at, 0, 0), "ops"
    )
    credit = BankCredit(uuid.uuid4(), "S1/B1", 1_000, date(2026, 4, 10), None, "x", None)
    await repository.add_credits(report.id, [(credit, CreditMatch(None, None, None, "no reference"))])
    await repository.set_statement_counts(report.id, 1, 0)
    assert await repository.recorded_entry_keys(["S1/B1", "S1/B2"]) == {"S1/B1"}
    stored = await repository.statement("M1/S1")
    assert stored is not None and stored.id == report.id and stored.credit_count == 1


async def test_an_unmatched_credit_is_read_back_and_assigned_by_an_agent(repository: Any) -> None:
    report = StatementReport(uuid.uuid4(), "M1/S2", datetime(2026, 4, 10, tzinfo=UTC), 0, 0)
    await repository.add_statement(report, "ops")
    credit = BankCredit(uuid.uuid4(), "S2/B1", 1_234, date(2026, 4, 10), "RF00X", "libre", "Commune A")
    await repository.add_credits(report.id, [(credit, CreditMatch(None, None, None, "no reference"))])
    assert await repository.credit_for_update(uuid.uuid4()) is None

    stored = await repository.credit_for_update(credit.id)
    assert stored is not None
    assert (stored.statement_id, stored.amount_cents) == (report.id, 1_234)
    assert stored.booked_on == date(2026, 4, 10)
    assert (stored.reference, stored.remittance, stored.debtor_name) == ("RF00X", "libre", "Commune A")
    assert (stored.siren, stored.period, stored.matched_by, stored.unmatched_reason) == (
        None,
        None,
        None,
        "no reference",
    )

    await repository.assign_credit(credit.id, A, "2026-Q1", "agent-7")
    assigned = await repository.credit_for_update(credit.id)
    assert assigned is not None
    assert (assigned.siren, assigned.period, assigned.matched_by) == (A, "2026-Q1", MatchedBy.AGENT)
    assert assigned.unmatched_reason is None


def declaration(siren: str, period: str, version: int, contribution_cents: int) -> Declaration:
    return Declaration(
        id=uuid.uuid4(),
        siren=siren,
        period=ContributionPeriod.parse(period),
        version=version,
        line_count=0,
        allowances_cents=contribution_cents * 100,
        contribution_cents=contribution_cents,
        received_at=datetime(2026, 4, version, tzinfo=UTC),
    )


async def test_the_declaration_history_lists_every_version_by_period_then_version_R_CON_4(
    repository: Any,
) -> None:
    await registered(repository)
    await repository.insert_periods([account(A, "2026-Q1"), account(A, "2026-Q2"), account(B, "2026-Q1")])
    for siren, period, version, cents in [
        (A, "2026-Q2", 1, 500),
        (A, "2026-Q1", 2, 300),
        (A, "2026-Q1", 1, 200),
        (B, "2026-Q1", 1, 900),
    ]:
        await repository.add_declaration(declaration(siren, period, version, cents), f"by-{siren}-{version}")

    history = await repository.declaration_history(A, None)
    assert [(v.period, v.version, v.contribution_cents) for v in history] == [
        ("2026-Q1", 1, 200),
        ("2026-Q1", 2, 300),
        ("2026-Q2", 1, 500),
    ]
    assert history[0].received_by == f"by-{A}-1"
    assert history[0].allowances_cents == 20_000
    assert history[1].received_at == datetime(2026, 4, 2, tzinfo=UTC)
    only_q2 = await repository.declaration_history(A, "2026-Q2")
    assert [(v.period, v.version) for v in only_q2] == [("2026-Q2", 1)]
    assert await repository.declaration_history(B, "2026-Q2") == []
