"""What payout does once a dossier's outcome and its funding plan are both known (R-PAY-1, R-PAY-2, R-DOS-5).

The plan (funding's topic) and the outcome (dossier's topic) arrive on different topics, in no guaranteed
order: each is recorded under a per-dossier transaction lock, and whichever arrives second resolves the
dossier, exactly once (marked resolved in the same transaction as the payment and the events).
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID, uuid4

from dife_contracts import Event
from dife_contracts.events import DifeCaptureRequested, RefundOrdered
from servicekit.outbox import Outbox

from payout.adapters.repository import Outcome, Plan
from payout.domain.allocation import Allocation, allocate, late_cancellation
from payout.domain.amounts import amount_due
from payout.domain.payments import Payment
from payout.use_cases.ports import DossierStore, PaymentStore

SERVICE_DONE = "service_done"
LATE_CANCELLATION = "late_cancellation"


async def record_plan(
    dossiers: DossierStore, payments: PaymentStore, outbox: Outbox, plan: Plan, now: datetime
) -> None:
    await dossiers.lock(plan.dossier_id)
    await dossiers.save_plan(plan, now)
    await resolve(dossiers, payments, outbox, plan.dossier_id, now)


async def record_outcome(
    dossiers: DossierStore, payments: PaymentStore, outbox: Outbox, outcome: Outcome, now: datetime
) -> None:
    """The first outcome of a dossier counts; a second one (a replay under a new event id) is a no-op."""
    await dossiers.lock(outcome.dossier_id)
    if await dossiers.record_outcome(outcome, now):
        await resolve(dossiers, payments, outbox, outcome.dossier_id, now)


async def resolve(
    dossiers: DossierStore, payments: PaymentStore, outbox: Outbox, dossier_id: UUID, now: datetime
) -> bool:
    """Order the payment and the DIFE capture once outcome and plan are known; True if done now."""
    outcome = await dossiers.outcome(dossier_id)
    if outcome is None or outcome.resolved:
        return False
    plan = await dossiers.plan(dossier_id)
    if plan is None:
        return False  # the plan has not arrived yet: resolved when it does (or by the daily sweep)
    events: list[Event] = []
    payment: Payment | None = None
    if outcome.kind == SERVICE_DONE:
        assert outcome.price_cents is not None and outcome.realisation_percent is not None
        assert outcome.validated_on is not None and outcome.siret is not None
        allocation = allocate(plan.lines, amount_due(outcome.price_cents, outcome.realisation_percent))
        payment = Payment.order(
            dossier_id=dossier_id,
            elu_id=plan.elu_id,
            siret=outcome.siret,
            amount_cents=allocation.amount_due_cents,
            realisation_percent=outcome.realisation_percent,
            validated_on=outcome.validated_on,
        )
        await payments.add(payment, now)
    else:
        allocation = late_cancellation(plan.lines)
    refund_id = uuid4() if allocation.card_refund_cents else None
    events.extend(_capture_and_refund(plan, allocation, refund_id, outcome.kind))
    if payment is not None:
        events.extend(payment.events)
    await dossiers.save_shares(dossier_id, allocation, refund_id)
    await dossiers.mark_resolved(dossier_id)
    await outbox.add_many(events)
    return True


def _capture_and_refund(plan: Plan, allocation: Allocation, refund_id: UUID | None, kind: str) -> list[Event]:
    """R-PAY-2: capture the DIFE share drawn (the ledger releases the rest of the hold); refund the card."""
    events: list[Event] = []
    if allocation.has_dife_line:
        events.append(
            DifeCaptureRequested(
                dossier_id=plan.dossier_id, elu_id=plan.elu_id, amount_cents=allocation.dife_capture_cents
            )
        )
    if refund_id is not None:
        reason = (
            "late cancellation: the training did not take place (R-DOS-5)"
            if kind == LATE_CANCELLATION
            else "the service cost less than the card share paid (R-PAY-2)"
        )
        events.append(
            RefundOrdered(
                dossier_id=plan.dossier_id,
                refund_id=refund_id,
                elu_id=plan.elu_id,
                amount_cents=allocation.card_refund_cents,
                reason=reason,
            )
        )
    return events
