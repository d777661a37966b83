"""Request and response schemas of funding's REST API. Cents are strict integers with bounds (a float, a
numeric string or a 10^30 is refused with 422, never a 500); texts refuse control characters (NUL…)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from dife_contracts.enums import FundingSource
from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from funding.domain.cofunding import DecisionMode, Envelope, EnvelopeStatus
from funding.domain.plan import FundingPlan, LineStatus, PlanStatus

MAX_CENTS = 10**12
AmountCents = Annotated[int, Strict(), Field(ge=0, le=MAX_CENTS)]
PositiveAmountCents = Annotated[int, Strict(), Field(gt=0, le=MAX_CENTS)]
CleanText = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f\x7f]+$")]
COLLECTIVITE_CODE_PATTERN = r"^(\d{2,9}|2[AB]\d{0,3}|97\d{1,3})$"
CollectiviteCode = Annotated[str, StringConstraints(pattern=COLLECTIVITE_CODE_PATTERN)]


class Strict_(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LineOut(BaseModel):
    source: FundingSource
    amount_cents: int
    status: LineStatus
    reference: str | None


class PlanOut(BaseModel):
    """The whole plan, for the élu and agents: each line, its status, what is still missing."""

    dossier_id: UUID
    elu_id: UUID
    status: PlanStatus
    price_cents: int
    lines: list[LineOut]
    missing: list[str]
    failure_reason: str | None

    @classmethod
    def of(cls, plan: FundingPlan) -> PlanOut:
        return cls(
            dossier_id=plan.dossier_id,
            elu_id=plan.elu_id,
            status=plan.status,
            price_cents=plan.facts.price_cents,
            lines=[
                LineOut(
                    source=line.source,
                    amount_cents=line.amount_cents,
                    status=line.status,
                    reference=line.reference,
                )
                for line in plan.lines
            ],
            missing=plan.missing,
            failure_reason=plan.failure_reason,
        )


class PlanReadinessOut(BaseModel):
    """What the organisme may know of a plan: whether the funding is secured."""

    dossier_id: UUID
    ready: bool


class EnvelopeIn(Strict_):
    """A deliberation of the collectivité's council to top up its élus' mandate trainings (R-FUN-2)."""

    collectivite_code: CollectiviteCode = Field(
        description="How the RNE names the collectivité in its élus' mandates: commune INSEE code, "
        "département or région code, or the EPCI's SIREN."
    )
    deliberation_reference: CleanText
    deliberation_date: date
    budget_cents: PositiveAmountCents
    per_elu_ceiling_cents: PositiveAmountCents
    valid_from: date
    valid_until: date
    themes: list[Annotated[str, StringConstraints(pattern=r"^[A-Z]{2,4}-\d{2}$")]] = Field(
        default_factory=list, max_length=50
    )
    decision_mode: DecisionMode = DecisionMode.MANUAL


class EnvelopeOut(BaseModel):
    envelope_id: UUID
    siren: str
    collectivite_code: str
    deliberation_reference: str
    deliberation_date: date
    budget_cents: int
    per_elu_ceiling_cents: int
    reserved_cents: int
    remaining_cents: int
    valid_from: date
    valid_until: date
    themes: list[str]
    decision_mode: DecisionMode
    status: EnvelopeStatus

    @classmethod
    def of(cls, envelope: Envelope) -> EnvelopeOut:
        return cls(
            envelope_id=envelope.envelope_id,
            siren=envelope.siren,
            collectivite_code=envelope.collectivite_code,
            deliberation_reference=envelope.deliberation_reference,
            deliberation_date=envelope.deliberation_date,
            budget_cents=envelope.budget_cents,
            per_elu_ceiling_cents=envelope.per_elu_ceiling_cents,
            reserved_cents=envelope.reserved_cents,
            remaining_cents=envelope.remaining_cents,
            valid_from=envelope.valid_from,
            valid_until=envelope.valid_until,
            themes=envelope.themes,
            decision_mode=envelope.decision_mode,
            status=envelope.status,
        )


class CodeOwnerIn(Strict_):
    """The SIREN that owns a collectivité code (R-FUN-2), as an agent read it from the official registers."""

    siren: Annotated[str, StringConstraints(pattern=r"^\d{9}$")]


class CodeOwnerOut(BaseModel):
    collectivite_code: str
    siren: str


class RequestOut(BaseModel):
    request_id: UUID
    envelope_id: UUID
    dossier_id: UUID
    elu_id: UUID
    siren: str
    requested_cents: int
    granted_cents: int | None
    status: str
    created_at: datetime | None


class DecisionIn(Strict_):
    approved: Annotated[bool, Strict()]
    amount_cents: AmountCents = 0


class ExternalCommitmentIn(Strict_):
    """CPF or CEC rights committed outside the platform (R-FUN-3)."""

    source: Literal["cpf", "cec"]
    reference: CleanText
    amount_cents: PositiveAmountCents


class CardPaymentOut(BaseModel):
    """The payment intent the front-end hands to the provider for the exact reste à charge (R-FUN-4)."""

    intent_id: UUID
    dossier_id: UUID
    amount_cents: int
    status: str


class PspNotificationIn(Strict_):
    """The provider's notification body (signed in the `Signature` header)."""

    model_config = ConfigDict(extra="ignore")

    id: Annotated[str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")]
    type: Literal["payment.succeeded"]
    intent_id: UUID
    amount_cents: PositiveAmountCents
    provider_reference: Annotated[
        str, StringConstraints(min_length=1, max_length=255, pattern=r"^[^\x00-\x1f\x7f]+$")
    ]


class PspAck(BaseModel):
    received: bool
    replayed: bool
