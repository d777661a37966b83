"""Handlers of the events funding consumes: the dossier's lifecycle, the ledger's answers and movements, and
payout's payment orders.

Thin: the servicekit consumer gives the transaction and the inbox row (a replayed event is a no-op); each
handler calls one use case. Handlers are built per app, bound to its configuration.
"""

from __future__ import annotations

from collections.abc import Callable

from dife_contracts import topics
from dife_contracts.events import (
    AccountAdjusted,
    DossierCancelled,
    DossierExpired,
    DossierRefused,
    DossierValidated,
    EluMandatesChanged,
    EluRegistered,
    HoldCaptured,
    HoldPlaced,
    HoldRejected,
    HoldReleased,
    PaymentOrdered,
    RightsCredited,
    RightsExpired,
)
from servicekit.consumer import ConsumerSpec, EventHandlers, EventMeta
from sqlalchemy.ext.asyncio import AsyncSession

from funding.use_cases import plans as plan_cases
from funding.use_cases import readmodels
from funding.use_cases.ports import Funding

FundingFor = Callable[[AsyncSession], Funding]

BalanceMovement = RightsCredited | RightsExpired | HoldReleased | AccountAdjusted


def dossier_handlers(funding_for: FundingFor) -> EventHandlers:
    """The dossier's lifecycle: a validation proposes a plan, every exit gives back what was reserved."""
    handlers = EventHandlers()

    @handlers.on(DossierValidated)
    async def on_validated(session: AsyncSession, event: DossierValidated, meta: EventMeta) -> None:
        await plan_cases.propose_plan(funding_for(session), event)

    @handlers.on(DossierRefused)
    async def on_refused(session: AsyncSession, event: DossierRefused, meta: EventMeta) -> None:
        reason = f"dossier {event.by.value}"
        await plan_cases.dossier_ended(funding_for(session), event.dossier_id, reason, rights_consumed=False)

    @handlers.on(DossierExpired)
    async def on_expired(session: AsyncSession, event: DossierExpired, meta: EventMeta) -> None:
        reason = "dossier expired"
        await plan_cases.dossier_ended(funding_for(session), event.dossier_id, reason, rights_consumed=False)

    @handlers.on(DossierCancelled)
    async def on_cancelled(session: AsyncSession, event: DossierCancelled, meta: EventMeta) -> None:
        await plan_cases.dossier_ended(
            funding_for(session),
            event.dossier_id,
            f"dossier cancelled by {event.by.value}",
            rights_consumed=event.rights_consumed,
        )

    return handlers


def ledger_handlers(funding_for: FundingFor) -> EventHandlers:
    """The ledger's answers to holds, and every movement and mandate change for the local read models."""
    handlers = EventHandlers()

    @handlers.on(HoldPlaced)
    async def on_hold_placed(session: AsyncSession, event: HoldPlaced, meta: EventMeta) -> None:
        funding = funding_for(session)
        await readmodels.apply_balance_event(funding, event)
        await plan_cases.hold_placed(funding, event.dossier_id, event.amount_cents)

    @handlers.on(HoldRejected)
    async def on_hold_rejected(session: AsyncSession, event: HoldRejected, meta: EventMeta) -> None:
        funding = funding_for(session)
        await readmodels.apply_balance_event(funding, event)
        await plan_cases.hold_rejected(funding, event.dossier_id, event.reason, event.available_cents)

    @handlers.on(HoldCaptured)
    async def on_hold_captured(session: AsyncSession, event: HoldCaptured, meta: EventMeta) -> None:
        funding = funding_for(session)
        await readmodels.apply_balance_event(funding, event)
        await plan_cases.hold_captured(funding, event.dossier_id)

    @handlers.on(RightsCredited, RightsExpired, HoldReleased, AccountAdjusted)
    async def on_movement(session: AsyncSession, event: BalanceMovement, meta: EventMeta) -> None:
        await readmodels.apply_balance_event(funding_for(session), event)

    @handlers.on(EluRegistered, EluMandatesChanged)
    async def on_mandates(
        session: AsyncSession, event: EluRegistered | EluMandatesChanged, meta: EventMeta
    ) -> None:
        await readmodels.replace_mandates(funding_for(session), event, event.mandates)

    return handlers


def payout_handlers(funding_for: FundingFor) -> EventHandlers:
    """Payout's payment order: the lines end as payout drew them (R-PAY-2), unused top-ups go back."""
    handlers = EventHandlers()

    @handlers.on(PaymentOrdered)
    async def on_payment_ordered(session: AsyncSession, event: PaymentOrdered, meta: EventMeta) -> None:
        await plan_cases.payment_ordered(funding_for(session), event.dossier_id, event.amount_cents)

    return handlers


def consumer_specs(funding_for: FundingFor) -> list[ConsumerSpec]:
    """One group per topic: a dossier's events and an élu's ledger events each keep their own order."""
    return [
        ConsumerSpec(name="dossiers", topics=[topics.DOSSIER], handlers=dossier_handlers(funding_for)),
        ConsumerSpec(name="ledger", topics=[topics.LEDGER], handlers=ledger_handlers(funding_for)),
        ConsumerSpec(name="payout", topics=[topics.PAYOUT], handlers=payout_handlers(funding_for)),
    ]
