"""Events of a dossier's funding plan: DIFE first, then top-ups, then the élu's card (key: dossier_id)."""

from datetime import date
from typing import ClassVar
from uuid import UUID

from pydantic import Field, model_validator

from dife_contracts import topics
from dife_contracts.enums import FundingSource, TrainingPurpose
from dife_contracts.event import Event, PayloadPart
from dife_contracts.money import Cents, PositiveCents
from dife_contracts.values import Siren


class FundingEvent(Event):
    """An event about the funding of one dossier, keyed by dossier_id."""

    topic: ClassVar[str] = topics.FUNDING
    key_field: ClassVar[str] = "dossier_id"

    dossier_id: UUID
    elu_id: UUID


class PlanLine(PayloadPart):
    """One source's share of a training's price; `reference` names its commitment (CPF, deliberation)."""

    source: FundingSource
    amount_cents: PositiveCents
    reference: str | None = None


class FundingPlanEvent(FundingEvent):
    """An event that carries a whole funding plan."""

    price_cents: Cents
    lines: list[PlanLine] = Field(min_length=1)

    @model_validator(mode="after")
    def _lines_sum_to_the_price(self) -> "FundingPlanEvent":
        """R-FUN-5: a plan's lines sum exactly to the training price."""
        total = sum(line.amount_cents for line in self.lines)
        if total != self.price_cents:
            raise ValueError(f"plan lines sum to {total} cents, not {self.price_cents} (R-FUN-5)")
        return self


class PlanProposed(FundingPlanEvent):
    """Funding computed a plan for a validated dossier; the DIFE line still needs its hold."""

    ce_type: ClassVar[str] = "dife.funding.plan_proposed.v1"


class DifeHoldRequested(FundingEvent):
    """Funding asks the ledger to reserve DIFE rights; purpose and dates let it check R-END-1."""

    ce_type: ClassVar[str] = "dife.funding.dife_hold_requested.v1"

    amount_cents: Cents
    purpose: TrainingPurpose
    training_start: date
    training_end: date


class DifeReleaseRequested(FundingEvent):
    """Funding asks the ledger to give a dossier's hold back whole (refusal, expiry, cancellation)."""

    ce_type: ClassVar[str] = "dife.funding.dife_release_requested.v1"

    reason: str


class CofundingRequested(FundingEvent):
    """Funding asks the élu's collectivité to top up a mandate training under a deliberation (R-FUN-2)."""

    ce_type: ClassVar[str] = "dife.funding.cofunding_requested.v1"

    siren: Siren
    amount_cents: Cents
    deliberation_reference: str
    request_id: UUID | None = Field(
        default=None, description="The request the collectivité decides on (`/v1/cofunding-requests/{id}`)."
    )


class CofundingDecided(FundingEvent):
    """The collectivité answered a top-up request; `amount_cents` is what it grants (0 when refused)."""

    ce_type: ClassVar[str] = "dife.funding.cofunding_decided.v1"

    siren: Siren
    approved: bool
    amount_cents: Cents
    request_id: UUID | None = Field(default=None, description="The request this decision answers.")


class CardPaymentConfirmed(FundingEvent):
    """The payment provider's signed notification confirmed the élu's card payment (R-FUN-4)."""

    ce_type: ClassVar[str] = "dife.funding.card_payment_confirmed.v1"

    amount_cents: Cents
    provider_reference: str


class PlanReady(FundingPlanEvent):
    """Every line of the plan is secured: the élu may accept the dossier."""

    ce_type: ClassVar[str] = "dife.funding.plan_ready.v1"


class PlanFailed(FundingEvent):
    """The plan cannot be completed (hold rejected, top-up refused, card not paid in time)."""

    ce_type: ClassVar[str] = "dife.funding.plan_failed.v1"

    reason: str


class CardRefundOrdered(FundingEvent):
    """Funding orders the payment provider to refund the élu's card payment of a plan that ended unpaid."""

    ce_type: ClassVar[str] = "dife.funding.card_refund_ordered.v1"

    amount_cents: Cents
    provider_reference: str
    reason: str
