"""The dossier's consumer: catalogue, ledger, funding and payout events.

servicekit's consumer runs each handler in one transaction with its inbox row (a redelivery is a no-op) and
dead-letters an event type that arrives from a topic or `ce_source` not owning it. Handlers are built around
the app's clock so that a test moving a `MovableClock` moves the consumers' "now" too.
"""

from __future__ import annotations

from dife_contracts import topics
from dife_contracts.events import (
    AccountActivated,
    EluMandatesChanged,
    EluRegistered,
    OfferPublished,
    OfferWithdrawn,
    OrganismeRegistered,
    PaymentSettled,
    PensionLiquidated,
    PlanFailed,
    PlanProposed,
    PlanReady,
    SessionCancelled,
)
from servicekit.clock import Clock
from servicekit.consumer import ConsumerSpec, EventHandlers, EventMeta
from servicekit.jobs import SessionScheduler
from servicekit.outbox import SessionOutbox
from sqlalchemy.ext.asyncio import AsyncSession

from dossier.adapters.repository import SqlRepository
from dossier.domain.dossier import FundingPlan, PlanLineView, PlanStatus
from dossier.use_cases import dossiers as uc
from dossier.use_cases import read_models
from dossier.use_cases.ports import Context

CONSUMED_TOPICS = (topics.CATALOGUE, topics.LEDGER, topics.FUNDING, topics.PAYOUT)


def build_handlers(clock: Clock) -> EventHandlers:
    handlers = EventHandlers()

    def context(session: AsyncSession) -> Context:
        return Context(SqlRepository(session), SessionOutbox(session), SessionScheduler(session), clock)

    # ---- ledger ----------------------------------------------------------------------------------------

    @handlers.on(EluRegistered)
    async def _elu(session: AsyncSession, event: EluRegistered, meta: EventMeta) -> None:
        await read_models.elu_registered(
            SqlRepository(session), event.elu_id, event.family_name, event.given_names, event.mandates
        )

    @handlers.on(EluMandatesChanged)
    async def _mandates(session: AsyncSession, event: EluMandatesChanged, meta: EventMeta) -> None:
        await read_models.mandates_changed(SqlRepository(session), event.elu_id, event.mandates)

    @handlers.on(AccountActivated)
    async def _activated(session: AsyncSession, event: AccountActivated, meta: EventMeta) -> None:
        await read_models.account_activated(SqlRepository(session), event.elu_id)

    @handlers.on(PensionLiquidated)
    async def _pension(session: AsyncSession, event: PensionLiquidated, meta: EventMeta) -> None:
        await read_models.pension_liquidated(SqlRepository(session), event.elu_id, event.liquidated_on)

    # ---- catalogue -------------------------------------------------------------------------------------

    @handlers.on(OrganismeRegistered)
    async def _organisme(session: AsyncSession, event: OrganismeRegistered, meta: EventMeta) -> None:
        await SqlRepository(session).upsert_organisme(event.siret, event.name)

    @handlers.on(OfferPublished)
    async def _published(session: AsyncSession, event: OfferPublished, meta: EventMeta) -> None:
        await read_models.offer_published(SqlRepository(session), event)

    @handlers.on(OfferWithdrawn)
    async def _withdrawn(session: AsyncSession, event: OfferWithdrawn, meta: EventMeta) -> None:
        await SqlRepository(session).withdraw_offer(event.offer_id)

    @handlers.on(SessionCancelled)
    async def _session_cancelled(session: AsyncSession, event: SessionCancelled, meta: EventMeta) -> None:
        await uc.cancel_session(context(session), event.siret, event.session_id, event.reason)

    # ---- funding ---------------------------------------------------------------------------------------

    @handlers.on(PlanProposed, PlanReady)
    async def _plan(session: AsyncSession, event: PlanProposed | PlanReady, meta: EventMeta) -> None:
        plan = FundingPlan(
            status=PlanStatus.READY if isinstance(event, PlanReady) else PlanStatus.PROPOSED,
            lines=tuple(
                PlanLineView(line.source.value, line.amount_cents, line.reference) for line in event.lines
            ),
            at=meta.envelope.time,
        )
        await uc.record_plan(context(session), event.dossier_id, plan)

    @handlers.on(PlanFailed)
    async def _plan_failed(session: AsyncSession, event: PlanFailed, meta: EventMeta) -> None:
        plan = FundingPlan(status=PlanStatus.FAILED, reason=event.reason, at=meta.envelope.time)
        await uc.record_plan(context(session), event.dossier_id, plan)

    # ---- payout ----------------------------------------------------------------------------------------

    @handlers.on(PaymentSettled)
    async def _settled(session: AsyncSession, event: PaymentSettled, meta: EventMeta) -> None:
        await uc.mark_paid(context(session), event.dossier_id, event.amount_cents, event.settled_on)

    return handlers


def consumer_spec(clock: Clock) -> ConsumerSpec:
    return ConsumerSpec(name="events", topics=list(CONSUMED_TOPICS), handlers=build_handlers(clock))
