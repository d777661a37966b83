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
from payout.adapters.repository import (
    BankDetailsRepository,
    DossierRepository,
    Outcome,
    PaymentRepository,
    Plan,
)
from payout.adapters.vault import Vault
from payout.domain.allocation import PlanLine
from payout.domain.payees import BankDetails
from payout.domain.payments import Payment, PaymentStatus
from payout.settings import DEV_IBAN_KEY
from servicekit.db import make_engine, make_sessionmaker
from servicekit.testing import migrate

from ..unit.fakes import FakeDossiers, FakePayments  # type: ignore[misc]  # mypy: tests/ is no package
from .conftest import ALEMBIC_INI

NOW = datetime(2027, 1, 15, tzinfo=UTC)
IBAN = "FR7630006000011234567890189"


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


@asynccontextmanager
async def fake_payments(_: Callable[[], Any], siret: str) -> AsyncIterator[Any]:
    details = BankDetails.propose(
        siret=siret, iban=IBAN, bic="AGRIFRPP", holder_name="Institut", entered_by="agent-a", now=NOW
    )
    details.verify(by="agent-b", now=NOW)
    yield FakePayments(verified_details={siret: details.details_id}), details.details_id


@asynccontextmanager
async def postgres_payments(database_factory: Callable[[], Any], siret: str) -> AsyncIterator[Any]:
    url = await database_factory()
    await migrate(ALEMBIC_INI, url)
    engine = make_engine(url)
    try:
        async with make_sessionmaker(engine).begin() as session:
            details = BankDetails.propose(
                siret=siret, iban=IBAN, bic="AGRIFRPP", holder_name="Institut", entered_by="agent-a", now=NOW
            )
            details.verify(by="agent-b", now=NOW)
            await BankDetailsRepository(session, Vault(DEV_IBAN_KEY)).add(details)
            yield PaymentRepository(session), details.details_id
    finally:
        await engine.dispose()


def _payment(siret: str, deadline: date, amount_cents: int = 10_000, **state: Any) -> Payment:
    payment = Payment.order(
        dossier_id=uuid4(),
        elu_id=uuid4(),
        siret=siret,
        amount_cents=amount_cents,
        realisation_percent=100,
        validated_on=date(2027, 1, 4),
    )
    payment.deadline = deadline
    for name, value in state.items():
        setattr(payment, name, value)
    return payment


@pytest.mark.parametrize("store", [fake_payments, postgres_payments], ids=["fake", "postgres"])
async def test_payment_store_batches_due_and_re_payable_payments_oldest_deadline_first_R_PAY_3(
    store: Callable[..., Any], database_factory: Callable[[], Any]
) -> None:
    siret, unverified = "12345678900011", "98765432100019"
    async with store(database_factory, siret) as (payments, verified):
        later = _payment(siret, date(2027, 2, 10))
        sooner = _payment(siret, date(2027, 2, 3))
        rejected_before = _payment(
            siret, date(2027, 2, 5), status=PaymentStatus.REJECTED, bank_details_id=uuid4()
        )
        hidden = [
            _payment(siret, date(2027, 2, 1), amount_cents=0),
            _payment(unverified, date(2027, 2, 1)),
            _payment(siret, date(2027, 2, 1), status=PaymentStatus.REJECTED, bank_details_id=verified),
            _payment(siret, date(2027, 2, 1), status=PaymentStatus.BATCHED),
        ]
        for payment in [later, sooner, rejected_before, *hidden]:
            await payments.add(payment, NOW)

        batchable = await payments.batchable(10)
        first_two = await payments.batchable(2)

        assert [(p.payment_id, details) for p, details in batchable] == [
            (sooner.payment_id, verified),
            (rejected_before.payment_id, verified),
            (later.payment_id, verified),
        ]
        assert [p.payment_id for p, _ in first_two] == [sooner.payment_id, rejected_before.payment_id]
        assert all(p.events == [] for p, _ in batchable)
        found = await payments.by_ids([sooner.payment_id, uuid4()])
        assert list(found) == [sooner.payment_id] and found[sooner.payment_id].deadline == date(2027, 2, 3)
