"""What use cases need from the outside, as small protocols: real adapters in production, fakes in tests."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Protocol
from uuid import UUID

from servicekit.clock import Clock
from servicekit.jobs import Scheduler, SessionScheduler
from servicekit.outbox import Outbox, SessionOutbox
from sqlalchemy.ext.asyncio import AsyncSession

from funding.adapters.repositories import (
    BalanceRepository,
    CodeOwnerRepository,
    CofundingRequest,
    EnvelopeRepository,
    EnvelopeWithCreation,
    MandateRepository,
    PaymentIntent,
    PaymentRepository,
    PlanRepository,
    RequestRepository,
)
from funding.domain.balances import BalanceChange
from funding.domain.cofunding import Envelope
from funding.domain.plan import FundingPlan
from funding.domain.policy import ConsumedExitPolicy, SettlementPolicy


class Plans(Protocol):
    async def get(self, dossier_id: UUID, *, for_update: bool = False) -> FundingPlan | None: ...
    async def add(self, plan: FundingPlan) -> bool: ...
    async def save(self, plan: FundingPlan) -> None: ...


class Balances(Protocol):
    """The read model of each élu's available DIFE (R-FUN-1)."""

    async def locked_available(self, elu_id: UUID) -> int: ...
    async def apply(self, elu_id: UUID, change: BalanceChange) -> None: ...
    async def in_flight_cents(self, elu_id: UUID) -> int: ...


class Mandates(Protocol):
    async def replace(self, elu_id: UUID, mandates: Sequence[tuple[str, date, date | None]]) -> None: ...
    async def of(self, elu_id: UUID) -> list[tuple[str, date, date | None]]: ...


class Envelopes(Protocol):
    async def add(self, envelope: Envelope) -> None: ...
    async def get(self, envelope_id: UUID, *, for_update: bool = False) -> Envelope | None: ...
    async def list_of(
        self, siren: str | None, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[EnvelopeWithCreation]: ...
    async def set_status(self, envelope: Envelope) -> None: ...
    async def lock_candidates(self, codes: Sequence[str], start: date, end: date) -> list[Envelope]: ...
    async def elu_reserved(self, envelope_ids: Sequence[UUID], elu_id: UUID) -> dict[UUID, int]: ...
    async def reserve(self, envelope: Envelope, elu_id: UUID, amount_cents: int) -> None: ...
    async def give_back(self, envelope_id: UUID, elu_id: UUID, amount_cents: int) -> None: ...


class CodeOwners(Protocol):
    """Which SIREN owns a collectivité code (R-FUN-2)."""

    async def owner_of(self, collectivite_code: str) -> str | None: ...
    async def register(self, collectivite_code: str, siren: str, registered_by: str) -> str: ...


class Requests(Protocol):
    async def add(self, request: CofundingRequest) -> None: ...
    async def get(self, request_id: UUID) -> CofundingRequest | None: ...
    async def envelopes_asked(self, dossier_id: UUID) -> set[UUID]: ...
    async def set_status(self, request_id: UUID, status: str, granted_cents: int | None = None) -> None: ...
    async def set_amounts(
        self, request_id: UUID, requested_cents: int, granted_cents: int | None
    ) -> None: ...
    async def list_of(
        self, siren: str | None, status: str | None, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[CofundingRequest]: ...


class Payments(Protocol):
    async def add(self, intent: PaymentIntent) -> None: ...
    async def get(self, intent_id: UUID, *, for_update: bool = False) -> PaymentIntent | None: ...
    async def pending_of(self, dossier_id: UUID) -> list[PaymentIntent]: ...
    async def set_status(
        self, intent_id: UUID, status: str, provider_reference: str | None = None
    ) -> None: ...
    async def record_notification(self, notification_id: str, intent_id: UUID, amount_cents: int) -> bool: ...


@dataclass
class Funding:
    """Everything one transaction of funding works with: small protocols, so use cases run on fakes too."""

    plans: Plans
    balances: Balances
    mandates: Mandates
    envelopes: Envelopes
    requests: Requests
    payments: Payments
    codes: CodeOwners
    outbox: Outbox
    scheduler: Scheduler
    clock: Clock
    policy: ConsumedExitPolicy
    max_hold_attempts: int
    settlement: SettlementPolicy = field(default_factory=SettlementPolicy)


@dataclass(frozen=True)
class FundingConfig:
    """What the app decides once (settings, clock) and every transaction reuses."""

    clock: Clock
    policy: ConsumedExitPolicy
    max_hold_attempts: int
    settlement: SettlementPolicy = field(default_factory=SettlementPolicy)


def funding_in(
    session: AsyncSession,
    config: FundingConfig,
    *,
    outbox: Outbox | None = None,
    scheduler: Scheduler | None = None,
) -> Funding:
    """The repositories of one transaction; the outbox and timers write in the same one unless given."""
    return Funding(
        plans=PlanRepository(session),
        balances=BalanceRepository(session),
        mandates=MandateRepository(session),
        envelopes=EnvelopeRepository(session),
        requests=RequestRepository(session),
        payments=PaymentRepository(session),
        codes=CodeOwnerRepository(session),
        outbox=outbox or SessionOutbox(session),
        scheduler=scheduler or SessionScheduler(session),
        clock=config.clock,
        policy=config.policy,
        max_hold_attempts=config.max_hold_attempts,
        settlement=config.settlement,
    )
