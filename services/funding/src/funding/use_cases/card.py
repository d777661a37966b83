"""The élu's card payment of the reste à charge and the provider's notification (R-FUN-3, R-FUN-4)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID, uuid4

from servicekit.rules import NotFound, RuleBroken

from funding.adapters.repositories import PaymentIntent
from funding.domain.plan import ExternalCommitment, FundingPlan
from funding.use_cases.plans import commit_plan
from funding.use_cases.ports import Funding


async def _owned_plan(funding: Funding, dossier_id: UUID, ensure_elu: Callable[[UUID], None]) -> FundingPlan:
    plan = await funding.plans.get(dossier_id, for_update=True)
    if plan is None:
        raise NotFound(f"no funding plan for dossier {dossier_id}")
    ensure_elu(plan.elu_id)
    return plan


async def add_external_commitment(
    funding: Funding,
    dossier_id: UUID,
    commitment: ExternalCommitment,
    ensure_elu: Callable[[UUID], None],
) -> FundingPlan:
    """R-FUN-3: CPF/CEC rights reduce the reste à charge; a card payment started for the old amount is
    superseded (a notification for it is refunded, never confirmed)."""
    plan = await _owned_plan(funding, dossier_id, ensure_elu)
    plan.add_external_commitment(commitment)
    for intent in await funding.payments.pending_of(dossier_id):
        await funding.payments.set_status(intent.intent_id, "superseded")
    await commit_plan(funding, plan)
    return plan


async def start_card_payment(
    funding: Funding, dossier_id: UUID, ensure_elu: Callable[[UUID], None]
) -> PaymentIntent:
    """R-FUN-4: a payment intent for the exact remainder; asking again returns the same pending intent."""
    plan = await _owned_plan(funding, dossier_id, ensure_elu)
    amount = plan.card_amount_to_pay()
    for intent in await funding.payments.pending_of(dossier_id):
        if intent.amount_cents == amount:
            return intent
        await funding.payments.set_status(intent.intent_id, "superseded")
    intent = PaymentIntent(uuid4(), dossier_id, plan.elu_id, amount, "pending")
    await funding.payments.add(intent)
    return intent


@dataclass(frozen=True)
class Notification:
    notification_id: str
    intent_id: UUID
    amount_cents: int
    provider_reference: str


async def card_notification(funding: Funding, notification: Notification) -> bool:
    """R-FUN-4: confirm the card line with the provider's signed notification. Returns False on a replay
    (no second effect). A different amount confirms nothing (the transaction rolls back, 422)."""
    intent = await funding.payments.get(notification.intent_id, for_update=True)
    if intent is None:
        raise NotFound(f"no payment intent {notification.intent_id}")
    if not await funding.payments.record_notification(
        notification.notification_id, intent.intent_id, notification.amount_cents
    ):
        return False
    if notification.amount_cents != intent.amount_cents:
        raise RuleBroken(
            "R-FUN-4",
            f"the notification says {notification.amount_cents} cents, the intent is {intent.amount_cents}",
            field="amount_cents",
        )
    plan = await funding.plans.get(intent.dossier_id, for_update=True)
    assert plan is not None
    if intent.status == "pending":
        plan.confirm_card(
            amount_cents=notification.amount_cents, provider_reference=notification.provider_reference
        )
        await funding.payments.set_status(intent.intent_id, "confirmed", notification.provider_reference)
    else:
        plan.refund_stray_payment(notification.amount_cents, notification.provider_reference)
    await commit_plan(funding, plan)
    return True
