"""The same scenarios on the in-memory fakes and on PostgreSQL: a fake that drifts from the real repositories
fails here, so unit tests on fakes cannot lie."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, nullcontext
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
from dife_contracts.enums import TrainingPurpose
from funding.adapters.repositories import CofundingRequest, PaymentIntent
from funding.domain.balances import BalanceChange
from funding.domain.cofunding import DecisionMode, Envelope
from funding.domain.plan import DossierFacts, FundingPlan, PlanStatus
from funding.domain.policy import ConsumedExitPolicy
from funding.use_cases.ports import Funding, FundingConfig, funding_in
from servicekit.clock import MovableClock
from servicekit.db import make_engine, make_sessionmaker
from servicekit.testing import migrate

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


@dataclass
class Subject:
    funding: Funding
    savepoint: Callable[[], AbstractAsyncContextManager[Any]]


@pytest.fixture(params=["fake", "postgres"])
async def subject(
    request: pytest.FixtureRequest, funding: Funding, fresh_database_url: str
) -> AsyncIterator[Subject]:
    if request.param == "fake":
        yield Subject(funding, nullcontext)
        return
    await migrate(ALEMBIC_INI, fresh_database_url)
    engine = make_engine(fresh_database_url)
    config = FundingConfig(MovableClock(datetime(2027, 2, 1, tzinfo=UTC)), ConsumedExitPolicy(), 3)
    try:
        async with make_sessionmaker(engine, ce_source="/dife/funding").begin() as session:
            yield Subject(funding_in(session, config), session.begin_nested)
    finally:
        await engine.dispose()


def facts(elu: uuid.UUID) -> DossierFacts:
    return DossierFacts(
        dossier_id=uuid.uuid4(),
        elu_id=elu,
        siret="12345678900011",
        purpose=TrainingPurpose.MANDATE,
        price_cents=50_000,
        training_start=date(2027, 3, 15),
        training_end=date(2027, 3, 16),
        acceptance_deadline=date(2027, 2, 5),
    )


def envelope(budget: int = 10_000, ceiling: int = 6_000) -> Envelope:
    return Envelope(
        envelope_id=uuid.uuid4(),
        siren="213100017",
        collectivite_code="31555",
        deliberation_reference="D",
        deliberation_date=date(2027, 1, 1),
        budget_cents=budget,
        per_elu_ceiling_cents=ceiling,
        valid_from=date(2027, 1, 1),
        valid_until=date(2027, 12, 31),
        decision_mode=DecisionMode.AUTOMATIC,
    )


async def test_a_plan_is_stored_once_and_read_back_whole(subject: Subject) -> None:
    plans = subject.funding.plans
    plan = FundingPlan.propose(facts(uuid.uuid4()), dife_available_cents=30_000)
    assert await plans.add(plan) is True
    assert await plans.add(plan) is False
    plan.on_hold_placed(30_000)
    await plans.save(plan)
    stored = await plans.get(plan.dossier_id, for_update=True)
    assert stored is not None and stored.facts == plan.facts and stored.status is PlanStatus.PROPOSED
    assert [(line.source, line.amount_cents, line.status) for line in stored.lines] == [
        (line.source, line.amount_cents, line.status) for line in plan.lines
    ]


async def test_the_balance_read_model_never_goes_below_zero_and_counts_what_is_in_flight(
    subject: Subject,
) -> None:
    balances, elu = subject.funding.balances, uuid.uuid4()
    await balances.apply(elu, BalanceChange(snapshot=False, cents=40_000))
    await balances.apply(elu, BalanceChange(snapshot=False, cents=-50_000))
    assert await balances.locked_available(elu) == 0
    await balances.apply(elu, BalanceChange(snapshot=True, cents=30_000))
    assert await balances.locked_available(elu) == 30_000
    await subject.funding.plans.add(FundingPlan.propose(facts(elu), dife_available_cents=30_000))
    assert await balances.in_flight_cents(elu) == 30_000


async def test_an_envelope_refuses_a_reservation_above_its_budget_or_the_ceiling(subject: Subject) -> None:
    envelopes = subject.funding.envelopes
    env = envelope()
    await envelopes.add(env)
    elu_a, elu_b = uuid.uuid4(), uuid.uuid4()
    await envelopes.reserve(env, elu_a, 6_000)
    with pytest.raises(Exception):  # noqa: B017 - a CHECK violation, whichever type the backend raises
        async with subject.savepoint():
            await envelopes.reserve(env, elu_a, 1)
    await envelopes.reserve(env, elu_b, 4_000)
    with pytest.raises(Exception):  # noqa: B017
        async with subject.savepoint():
            await envelopes.reserve(env, uuid.uuid4(), 1)
    assert await envelopes.elu_reserved([env.envelope_id], elu_a) == {env.envelope_id: 6_000}
    await envelopes.give_back(env.envelope_id, elu_a, 6_000)
    stored = await envelopes.get(env.envelope_id)
    assert stored is not None and stored.reserved_cents == 4_000
    assert [
        e.envelope_id for e in await envelopes.lock_candidates(["31555"], date(2027, 3, 1), date(2027, 3, 2))
    ] == [env.envelope_id]
    assert await envelopes.lock_candidates(["31555"], date(2027, 12, 31), date(2028, 1, 1)) == []


async def test_a_dossier_asks_one_envelope_once(subject: Subject) -> None:
    env = envelope()
    await subject.funding.envelopes.add(env)
    dossier, elu = uuid.uuid4(), uuid.uuid4()

    def request() -> CofundingRequest:
        return CofundingRequest(
            uuid.uuid4(), env.envelope_id, dossier, elu, "213100017", 1_000, None, "pending"
        )

    await subject.funding.requests.add(request())
    with pytest.raises(Exception):  # noqa: B017
        async with subject.savepoint():
            await subject.funding.requests.add(request())
    assert await subject.funding.requests.envelopes_asked(dossier) == {env.envelope_id}
    assert await subject.funding.requests.envelopes_asked(uuid.uuid4()) == set()
    [pending] = await subject.funding.requests.list_of("213100017", "pending", None, 10)
    await subject.funding.requests.set_status(pending.request_id, "approved", 1_000)
    stored = await subject.funding.requests.get(pending.request_id)
    assert stored is not None and (stored.status, stored.granted_cents) == ("approved", 1_000)
    await subject.funding.requests.set_amounts(pending.request_id, 1_500, 1_500)
    grown = await subject.funding.requests.get(pending.request_id)
    assert grown is not None and (grown.requested_cents, grown.granted_cents) == (1_500, 1_500)


async def test_a_collectivite_code_has_one_owner(subject: Subject) -> None:
    codes = subject.funding.codes
    assert await codes.owner_of("31555") is None
    assert await codes.register("31555", "213100017", "agent-1") == "213100017"
    assert await codes.register("31555", "217500016", "agent-2") == "213100017"
    assert await codes.owner_of("31555") == "213100017"


async def test_a_provider_notification_counts_once(subject: Subject) -> None:
    payments = subject.funding.payments
    intent = PaymentIntent(uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), 2_000, "pending")
    await payments.add(intent)
    assert [i.intent_id for i in await payments.pending_of(intent.dossier_id)] == [intent.intent_id]
    assert await payments.record_notification("evt_1", intent.intent_id, 2_000) is True
    assert await payments.record_notification("evt_1", intent.intent_id, 2_000) is False
    await payments.set_status(intent.intent_id, "confirmed", "pi_1")
    assert await payments.pending_of(intent.dossier_id) == []
