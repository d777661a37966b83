"""What use cases need from the outside, as small protocols: real adapters in production, fakes in tests."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol
from uuid import UUID

from dife_contracts.event import Event
from servicekit.clock import Clock
from sqlalchemy.ext.asyncio import AsyncSession

from funding.adapters.repositories import (
    BalanceRepository,
    EnvelopeRepository,
    MandateRepository,
    PaymentRepository,
    PlanRepository,
    RequestRepository,
)
from funding.domain.policy import ConsumedExitPolicy


class Outbox(Protocol):
    async def add(self, event: Event) -> None: ...

    async def add_many(self, events: Iterable[Event]) -> None: ...


class Scheduler(Protocol):
    """Timers kept in the caller's transaction; a pending timer with the same key is replaced."""

    async def schedule(
        self,
        kind: str,
        *,
        run_after: datetime,
        params: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> UUID: ...

    async def cancel(self, key: str) -> int: ...


@dataclass
class Funding:
    """Everything one transaction of funding works with."""

    plans: PlanRepository
    balances: BalanceRepository
    mandates: MandateRepository
    envelopes: EnvelopeRepository
    requests: RequestRepository
    payments: PaymentRepository
    outbox: Outbox
    scheduler: Scheduler
    clock: Clock
    policy: ConsumedExitPolicy
    max_hold_attempts: int


@dataclass(frozen=True)
class FundingConfig:
    """What the app decides once (settings, clock) and every transaction reuses."""

    clock: Clock
    policy: ConsumedExitPolicy
    max_hold_attempts: int


def funding_in(
    session: AsyncSession, config: FundingConfig, *, outbox: Outbox, scheduler: Scheduler
) -> Funding:
    """The repositories of one transaction, with the outbox and scheduler writing in the same one."""
    return Funding(
        plans=PlanRepository(session),
        balances=BalanceRepository(session),
        mandates=MandateRepository(session),
        envelopes=EnvelopeRepository(session),
        requests=RequestRepository(session),
        payments=PaymentRepository(session),
        outbox=outbox,
        scheduler=scheduler,
        clock=config.clock,
        policy=config.policy,
        max_hold_attempts=config.max_hold_attempts,
    )
