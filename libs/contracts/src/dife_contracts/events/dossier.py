"""Events of the training dossier, from the élu's request to the payment (key: dossier_id).

`dife.dossier.events` is the public topic for integrators: every event names the élu and the dossier.
"""

from datetime import date
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from dife_contracts import topics
from dife_contracts.enums import CancelledBy, DossierStatus, TrainingPurpose
from dife_contracts.event import Event
from dife_contracts.money import Cents
from dife_contracts.values import Hours, Rating, RealisationPercent, Siret


class DossierEvent(Event):
    """An event about one dossier, keyed by dossier_id so that its transitions stay in order."""

    topic: ClassVar[str] = topics.DOSSIER
    key_field: ClassVar[str] = "dossier_id"

    dossier_id: UUID
    elu_id: UUID


class DossierSubmitted(DossierEvent):
    """The élu asked for a session; it passed R-DOS-2 and the organisme must answer (R-DOS-1)."""

    ce_type: ClassVar[str] = "dife.dossier.dossier_submitted.v1"

    offer_id: UUID
    session_id: UUID
    siret: Siret
    purpose: TrainingPurpose
    price_cents: Cents
    training_start: date
    training_end: date
    submitted_at: AwareDatetime
    answer_deadline: date = Field(description="Last day for the organisme to answer (R-DOS-1).")


class DossierValidated(DossierEvent):
    """The organisme proposed the training at this price; the élu accepts by `answer_deadline` (R-DOS-1)."""

    ce_type: ClassVar[str] = "dife.dossier.dossier_validated.v1"

    offer_id: UUID
    session_id: UUID
    siret: Siret
    purpose: TrainingPurpose
    price_cents: Cents
    hours: Hours
    training_start: date
    training_end: date
    validated_at: AwareDatetime
    answer_deadline: date = Field(description="Last day for the élu to accept (R-DOS-1).")
    theme_code: str | None = Field(
        default=None,
        description="Theme of the offer in the répertoire (R-OFR-1); none for a reinsertion training.",
    )


class DossierAccepted(DossierEvent):
    """The élu confirmed the proposal and its funding is secured."""

    ce_type: ClassVar[str] = "dife.dossier.dossier_accepted.v1"

    accepted_at: AwareDatetime


class DossierRefused(DossierEvent):
    """The organisme declined the request, or the élu declined the proposal."""

    ce_type: ClassVar[str] = "dife.dossier.dossier_refused.v1"

    by: Literal[DossierStatus.REFUSED_BY_ORGANISME, DossierStatus.REFUSED_BY_ELU]
    reason: str
    refused_at: AwareDatetime


class DossierCancelled(DossierEvent):
    """The dossier was cancelled; `rights_consumed`: the hold is captured, not released (R-DOS-5)."""

    ce_type: ClassVar[str] = "dife.dossier.dossier_cancelled.v1"

    by: CancelledBy
    reason: str
    force_majeure: bool
    rights_consumed: bool
    cancelled_at: AwareDatetime

    @model_validator(mode="after")
    def _only_a_late_elu_consumes_rights(self) -> "DossierCancelled":
        """R-DOS-5: cancelling by the organisme, the financer or for force majeure gives rights back."""
        if self.rights_consumed and (self.by is not CancelledBy.ELU or self.force_majeure):
            raise ValueError("only a late élu cancellation without force majeure consumes rights (R-DOS-5)")
        return self


class DossierExpired(DossierEvent):
    """Nobody answered in time: the organisme (from `submitted`) or the élu (from `validated`) (R-DOS-1)."""

    ce_type: ClassVar[str] = "dife.dossier.dossier_expired.v1"

    expired_status: Literal[DossierStatus.SUBMITTED, DossierStatus.VALIDATED]
    expired_at: AwareDatetime


class TrainingStarted(DossierEvent):
    """The organisme declared the élu's entry into training (R-DOS-3)."""

    ce_type: ClassVar[str] = "dife.dossier.training_started.v1"

    started_on: date
    declared_late: bool = Field(
        default=False, description="Declared more than 3 working days after the entry (R-DOS-3)."
    )


class TrainingCompleted(DossierEvent):
    """The organisme declared the élu's exit with the taux de réalisation (R-DOS-3)."""

    ce_type: ClassVar[str] = "dife.dossier.training_completed.v1"

    completed_on: date
    realisation_percent: RealisationPercent
    declared_late: bool = Field(
        default=False, description="Declared more than 3 working days after the exit (R-DOS-3)."
    )


class ServiceDoneDeclared(DossierEvent):
    """The organisme declared the service done; validated in 5 working days unless controlled (R-DOS-4)."""

    ce_type: ClassVar[str] = "dife.dossier.service_done_declared.v1"

    declared_on: date
    realisation_percent: RealisationPercent


class ServiceDoneValidated(DossierEvent):
    """Service done is validated: the organisme is owed price × taux de réalisation (R-PAY-1, R-PAY-3)."""

    ce_type: ClassVar[str] = "dife.dossier.service_done_validated.v1"

    validated_on: date
    realisation_percent: RealisationPercent
    price_cents: Cents
    siret: Siret


class DossierEvaluated(DossierEvent):
    """The élu rated the training after it ended (R-DOS-6)."""

    ce_type: ClassVar[str] = "dife.dossier.dossier_evaluated.v1"

    offer_id: UUID
    siret: Siret
    rating: Rating
    comment: str = Field(default="", max_length=2000)


class DossierPaid(DossierEvent):
    """The organisme's payment settled: the dossier reached its final status `paid`."""

    ce_type: ClassVar[str] = "dife.dossier.dossier_paid.v1"

    paid_on: date
    amount_cents: Cents
