"""In-memory fakes of funding's repositories, for use-case tests without I/O. They keep the invariants the
database keeps (an envelope never above its budget, an élu never above the ceiling, one plan per dossier),
raising where a CHECK or a unique key would."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from uuid import UUID

import pytest
from dife_contracts.enums import FundingSource
from funding.adapters.repositories import CofundingRequest, EnvelopeWithCreation, PaymentIntent
from funding.domain.balances import BalanceChange
from funding.domain.cofunding import Envelope, EnvelopeStatus
from funding.domain.plan import FundingPlan, LineStatus, PlanStatus
from funding.domain.policy import ConsumedExitPolicy
from funding.use_cases.ports import Funding
from servicekit.clock import MovableClock
from servicekit.testing.fakes import FakeOutbox, FakeScheduler


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
    rows: dict[UUID, Envelope] = field(default_factory=dict)
    per_elu: dict[tuple[UUID, UUID], int] = field(default_factory=dict)

    async def add(self, envelope: Envelope) -> None:
        self.rows[envelope.envelope_id] = copy.deepcopy(envelope)

    async def get(self, envelope_id: UUID, *, for_update: bool = False) -> Envelope | None:
        found = self.rows.get(envelope_id)
        return copy.deepcopy(found) if found else None

    async def list_of(
        self, siren: str | None, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[EnvelopeWithCreation]:
        at = datetime(2027, 1, 1, tzinfo=UTC)
        return [
            EnvelopeWithCreation(copy.deepcopy(e), at) for e in self.rows.values() if siren in (None, e.siren)
        ]

    async def set_status(self, envelope: Envelope) -> None:
        self.rows[envelope.envelope_id].status = envelope.status

    async def lock_candidates(self, codes: Sequence[str], start: date, end: date) -> list[Envelope]:
        return [
            copy.deepcopy(e)
            for e in sorted(self.rows.values(), key=lambda e: e.envelope_id)
            if e.collectivite_code in codes and e.status is EnvelopeStatus.OPEN and e.covers(start, end)
        ]

    async def elu_reserved(self, envelope_ids: Sequence[UUID], elu_id: UUID) -> dict[UUID, int]:
        return {e: self.per_elu[(e, elu_id)] for e in envelope_ids if (e, elu_id) in self.per_elu}

    async def reserve(self, envelope: Envelope, elu_id: UUID, amount_cents: int) -> None:
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

    async def set_status(self, request_id: UUID, status: str, granted_cents: int | None = None) -> None:
        self.rows[request_id].status = status
        if granted_cents is not None:
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


@pytest.fixture
def funding() -> Funding:
    plans = FakePlans()
    return Funding(
        plans=plans,
        balances=FakeBalances(plans),
        mandates=FakeMandates(),
        envelopes=FakeEnvelopes(),
        requests=FakeRequests(),
        payments=FakePayments(),
        outbox=FakeOutbox(),
        scheduler=FakeScheduler(),
        clock=MovableClock(datetime(2027, 2, 1, 9, tzinfo=UTC)),
        policy=ConsumedExitPolicy(),
        max_hold_attempts=3,
    )
