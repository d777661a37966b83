"""Request and response bodies of the dossier API (strict types: no float cents, no NUL bytes)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal
from uuid import UUID

from dife_contracts.enums import DossierStatus, TrainingPurpose
from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints

from dossier.domain.controls import Control, ControlKind, ControlStatus
from dossier.domain.dossier import Dossier

Text = Annotated[str, StringConstraints(min_length=1, max_length=1000, pattern=r"^[^\x00]*$")]
"""A free-text reason: 1–1000 characters, no NUL byte (PostgreSQL text cannot hold one)."""

Comment = Annotated[str, StringConstraints(max_length=2000, pattern=r"^[^\x00]*$")]


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class SubmissionIn(Body):
    offer_id: UUID
    session_id: UUID


class ReasonIn(Body):
    reason: Text


class OptionalReasonIn(Body):
    reason: Text | None = None


class EntryIn(Body):
    date: date


class ExitIn(Body):
    date: date
    hours_attended: Annotated[Decimal, Field(ge=0, max_digits=6, decimal_places=2)] = Field(
        description="Hours the élu attended; the taux de réalisation is derived from it (R-DOS-3)."
    )


class EluCancellationIn(Body):
    reason: Text
    force_majeure: Annotated[bool, Strict()] = False


class EvaluationIn(Body):
    rating: Annotated[int, Strict(), Field(ge=1, le=5)]
    comment: Comment = ""


class ControlIn(Body):
    kind: ControlKind
    reason: Text


class DecisionIn(Body):
    outcome: Literal[ControlStatus.VALIDATED, ControlStatus.REJECTED]
    reason: Text


class OfferOut(BaseModel):
    offer_id: UUID
    title: str
    theme_code: str | None
    purpose: TrainingPurpose
    hours: Decimal
    siret: str
    organisme_name: str | None
    department: str | None


class SessionOut(BaseModel):
    session_id: UUID
    start_date: date
    end_date: date


class PlanLineOut(BaseModel):
    source: str
    amount_cents: int
    reference: str | None


class PlanOut(BaseModel):
    status: str
    lines: list[PlanLineOut]
    reason: str | None


class DeadlinesOut(BaseModel):
    """The deadlines running in the current status (R-DOS-1, R-DOS-3, R-DOS-4); the others are null."""

    answer_by: date | None = None
    accept_by: date | None = None
    declare_entry_by: date | None = None
    declare_exit_by: date | None = None
    auto_validation_on: date | None = None


class TransitionOut(BaseModel):
    at: datetime
    action: str
    from_status: DossierStatus | None
    to_status: DossierStatus
    by_role: str
    by: str
    reason: str | None
    event_type: str | None


class EvaluationOut(BaseModel):
    rating: int
    comment: str
    at: datetime


class DossierOut(BaseModel):
    id: UUID
    status: DossierStatus
    elu_id: UUID
    offer: OfferOut
    session: SessionOut
    price_cents: int
    plan: PlanOut | None
    deadlines: DeadlinesOut
    entry_on: date | None
    entry_declared_late: bool
    exit_on: date | None
    exit_declared_late: bool
    hours_attended: Decimal | None
    realisation_percent: int | None
    rights_consumed: bool | None
    amount_paid_cents: int
    open_control_id: UUID | None
    evaluation: EvaluationOut | None
    submitted_at: datetime
    allowed_actions: list[str]
    history: list[TransitionOut]

    @classmethod
    def of(cls, dossier: Dossier) -> DossierOut:
        return cls(
            id=dossier.dossier_id,
            status=dossier.status,
            elu_id=dossier.elu_id,
            offer=OfferOut(
                offer_id=dossier.offer_id,
                title=dossier.offer_title,
                theme_code=dossier.theme_code,
                purpose=dossier.purpose,
                hours=dossier.hours,
                siret=dossier.siret,
                organisme_name=dossier.organisme_name,
                department=dossier.department,
            ),
            session=SessionOut(
                session_id=dossier.session_id,
                start_date=dossier.training_start,
                end_date=dossier.training_end,
            ),
            price_cents=dossier.price_cents,
            plan=None
            if dossier.plan is None
            else PlanOut(
                status=dossier.plan.status.value,
                reason=dossier.plan.reason,
                lines=[
                    PlanLineOut(source=line.source, amount_cents=line.amount_cents, reference=line.reference)
                    for line in dossier.plan.lines
                ],
            ),
            deadlines=DeadlinesOut(**dossier.running_deadlines()),
            entry_on=dossier.entry_on,
            entry_declared_late=dossier.entry_declared_late,
            exit_on=dossier.exit_on,
            exit_declared_late=dossier.exit_declared_late,
            hours_attended=dossier.hours_attended,
            realisation_percent=dossier.realisation_percent,
            rights_consumed=dossier.rights_consumed,
            amount_paid_cents=dossier.amount_paid_cents,
            open_control_id=dossier.open_control_id,
            evaluation=None
            if dossier.evaluation is None
            else EvaluationOut(
                rating=dossier.evaluation.rating, comment=dossier.evaluation.comment, at=dossier.evaluation.at
            ),
            submitted_at=dossier.submitted_at,
            allowed_actions=[action.value for action in dossier.allowed_actions()],
            history=[
                TransitionOut(
                    at=step.at,
                    action=step.action.value,
                    from_status=step.from_status,
                    to_status=step.to_status,
                    by_role=step.actor.role,
                    by=step.actor.subject,
                    reason=step.reason,
                    event_type=step.event_type,
                )
                for step in dossier.history
            ],
        )


class ControlOut(BaseModel):
    id: UUID
    dossier_id: UUID
    kind: ControlKind
    reason: str
    status: ControlStatus
    opened_by: str
    opened_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None

    @classmethod
    def of(cls, control: Control) -> ControlOut:
        return cls(
            id=control.control_id,
            dossier_id=control.dossier_id,
            kind=control.kind,
            reason=control.reason,
            status=control.status,
            opened_by=control.opened_by,
            opened_at=control.opened_at,
            decided_by=control.decided_by,
            decided_at=control.decided_at,
            decision_reason=control.decision_reason,
        )


class FinancedTrainingOut(BaseModel):
    """R-PUB-1: the élu's identity, the cost, the subject, the organisation and the dates; nothing else."""

    family_name: str
    given_names: str
    cost_cents: int
    title: str
    theme_code: str | None
    organisme_name: str | None
    siret: str
    start_date: date
    end_date: date
