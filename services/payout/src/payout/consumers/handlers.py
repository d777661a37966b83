"""Events payout acts on. One consumer per producing topic: a type is handled only from the topic that
owns it (servicekit dead-letters a type from another topic or `ce_source`). Each handler runs in the inbox
transaction, so a redelivered event is a no-op; the effects are idempotent on their own too (natural keys,
ON CONFLICT)."""

from __future__ import annotations

from dife_contracts import topics
from dife_contracts.events import (
    DossierCancelled,
    HoldCaptured,
    HoldPlaced,
    HoldReleased,
    PaymentReceived,
    PlanReady,
    ServiceDoneValidated,
)
from servicekit.clock import Clock, paris_date
from servicekit.consumer import ConsumerSpec, EventHandlers, EventMeta
from servicekit.outbox import SessionOutbox
from sqlalchemy.ext.asyncio import AsyncSession

from payout.adapters.repository import DossierRepository, FundRepository, Outcome, PaymentRepository, Plan
from payout.domain.allocation import PlanLine
from payout.use_cases import settlement


def consumer_specs(clock: Clock) -> list[ConsumerSpec]:
    return [
        ConsumerSpec(name="funding-events", topics=[topics.FUNDING], handlers=_funding(clock)),
        ConsumerSpec(name="dossier-events", topics=[topics.DOSSIER], handlers=_dossier(clock)),
        ConsumerSpec(name="ledger-events", topics=[topics.LEDGER], handlers=_ledger()),
        ConsumerSpec(name="contributions-events", topics=[topics.CONTRIBUTIONS], handlers=_contributions()),
    ]


def _funding(clock: Clock) -> EventHandlers:
    handlers = EventHandlers()

    @handlers.on(PlanReady)
    async def plan_ready(session: AsyncSession, event: PlanReady, meta: EventMeta) -> None:
        plan = Plan(
            dossier_id=event.dossier_id,
            elu_id=event.elu_id,
            price_cents=event.price_cents,
            lines=[PlanLine(line.source, line.amount_cents, line.reference) for line in event.lines],
        )
        await settlement.record_plan(
            DossierRepository(session),
            PaymentRepository(session),
            SessionOutbox(session),
            plan,
            clock.now(),
        )

    return handlers


def _dossier(clock: Clock) -> EventHandlers:
    handlers = EventHandlers()

    @handlers.on(ServiceDoneValidated)
    async def service_done(session: AsyncSession, event: ServiceDoneValidated, meta: EventMeta) -> None:
        """R-PAY-1, R-PAY-2, R-PAY-3: the organisme is owed price × taux de réalisation."""
        outcome = Outcome(
            dossier_id=event.dossier_id,
            elu_id=event.elu_id,
            kind=settlement.SERVICE_DONE,
            siret=event.siret,
            price_cents=event.price_cents,
            realisation_percent=event.realisation_percent,
            validated_on=event.validated_on,
            resolved=False,
        )
        await settlement.record_outcome(
            DossierRepository(session),
            PaymentRepository(session),
            SessionOutbox(session),
            outcome,
            clock.now(),
        )

    @handlers.on(DossierCancelled)
    async def cancelled(session: AsyncSession, event: DossierCancelled, meta: EventMeta) -> None:
        """R-DOS-5: only a late cancellation consumes the rights; otherwise funding releases the hold."""
        if not event.rights_consumed:
            return
        outcome = Outcome(
            dossier_id=event.dossier_id,
            elu_id=event.elu_id,
            kind=settlement.LATE_CANCELLATION,
            siret=None,
            price_cents=None,
            realisation_percent=None,
            validated_on=None,
            resolved=False,
        )
        await settlement.record_outcome(
            DossierRepository(session),
            PaymentRepository(session),
            SessionOutbox(session),
            outcome,
            clock.now(),
        )

    return handlers


def _ledger() -> EventHandlers:
    """DIFE committed = holds placed and not yet captured or released (fund position)."""
    handlers = EventHandlers()

    @handlers.on(HoldPlaced)
    async def placed(session: AsyncSession, event: HoldPlaced, meta: EventMeta) -> None:
        await FundRepository(session).place_hold(
            hold_id=event.hold_id,
            dossier_id=event.dossier_id,
            elu_id=event.elu_id,
            amount_cents=event.amount_cents,
            placed_on=paris_date(meta.envelope.time),
        )

    @handlers.on(HoldCaptured)
    async def captured(session: AsyncSession, event: HoldCaptured, meta: EventMeta) -> None:
        await FundRepository(session).resolve_hold(
            hold_id=event.hold_id,
            on=paris_date(meta.envelope.time),
            captured_cents=event.captured_cents,
            released_cents=event.released_cents,
        )

    @handlers.on(HoldReleased)
    async def released(session: AsyncSession, event: HoldReleased, meta: EventMeta) -> None:
        await FundRepository(session).resolve_hold(
            hold_id=event.hold_id,
            on=paris_date(meta.envelope.time),
            captured_cents=0,
            released_cents=event.released_cents,
        )

    return handlers


def _contributions() -> EventHandlers:
    handlers = EventHandlers()

    @handlers.on(PaymentReceived)
    async def received(session: AsyncSession, event: PaymentReceived, meta: EventMeta) -> None:
        await FundRepository(session).add_contribution(
            payment_id=event.payment_id,
            siren=event.siren,
            amount_cents=event.amount_cents,
            received_on=event.received_on,
        )

    return handlers
