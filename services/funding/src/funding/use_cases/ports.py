"""What use cases need from the outside, as small protocols: real adapters in production, fakes in tests."""

from __future__ import annotations

from dataclasses import dataclass

from servicekit.clock import Clock
from servicekit.jobs import Scheduler, SessionScheduler
from servicekit.outbox import Outbox, SessionOutbox
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
        outbox=outbox or SessionOutbox(session),
        scheduler=scheduler or SessionScheduler(session),
        clock=config.clock,
        policy=config.policy,
        max_hold_attempts=config.max_hold_attempts,
    )
