"""Fakes that cannot lie: the same scenarios on the in-memory dossier store of the unit tests and on the
PostgreSQL repository."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any
from uuid import uuid4

import pytest
from dife_contracts.enums import FundingSource
from payout.adapters.repository import DossierRepository, Outcome, Plan
from payout.domain.allocation import PlanLine
from payout.testing.fakes import FakeDossiers
from servicekit.db import make_engine, make_sessionmaker
from servicekit.testing import migrate

from .conftest import ALEMBIC_INI

NOW = datetime(2027, 1, 15, tzinfo=UTC)


@asynccontextmanager
async def fake_store(_: Callable[[], Any]) -> AsyncIterator[Any]:
    yield FakeDossiers()


@asynccontextmanager
async def postgres_store(database_factory: Callable[[], Any]) -> AsyncIterator[Any]:
    url = await database_factory()
    await migrate(ALEMBIC_INI, url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            yield DossierRepository(session)
    finally:
        await engine.dispose()


@pytest.mark.parametrize("store", [fake_store, postgres_store], ids=["fake", "postgres"])
async def test_dossier_store_first_outcome_wins_plans_are_replaced_and_resolution_sticks(
    store: Callable[..., Any], database_factory: Callable[[], Any]
) -> None:
    async with store(database_factory) as dossiers:
        dossier, elu = uuid4(), uuid4()
        assert await dossiers.plan(dossier) is None and await dossiers.outcome(dossier) is None
        first = Plan(dossier, elu, 50_000, [PlanLine(FundingSource.DIFE, 50_000)])
        second = Plan(
            dossier,
            elu,
            50_000,
            [PlanLine(FundingSource.DIFE, 30_000), PlanLine(FundingSource.CPF, 20_000, "C")],
        )
        await dossiers.save_plan(first, NOW)
        await dossiers.save_plan(second, NOW)
        assert await dossiers.plan(dossier) == second
        done = Outcome(dossier, elu, "service_done", "12345678900011", 50_000, 80, date(2027, 1, 14), False)
        cancelled = Outcome(dossier, elu, "late_cancellation", None, None, None, None, False)
        assert await dossiers.record_outcome(done, NOW) is True
        assert await dossiers.record_outcome(cancelled, NOW) is False
        assert await dossiers.outcome(dossier) == done
        await dossiers.mark_resolved(dossier)
        resolved = await dossiers.outcome(dossier)
        assert resolved is not None and resolved.resolved and resolved.kind == "service_done"
