"""Events of the catalogue: organismes de formation, their agréments, offers and sessions.

Offer events are keyed by offer_id; organisme events by the organisme's SIRET.
"""

from datetime import date
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from dife_contracts import topics
from dife_contracts.enums import AgrementStatus, Modality, TrainingPurpose
from dife_contracts.event import Event, PayloadPart
from dife_contracts.money import Cents
from dife_contracts.values import (
    BasisPoints,
    CommuneCode,
    DepartmentCode,
    Hours,
    Nda,
    PostalCode,
    RatingAverage,
    Siret,
)


class OrganismeEvent(Event):
    """An event about one organisme de formation, keyed by its SIRET."""

    topic: ClassVar[str] = topics.CATALOGUE
    key_field: ClassVar[str] = "siret"

    siret: Siret


class OfferEvent(Event):
    """An event about one training offer, keyed by offer_id; it names the organisme that sells it."""

    topic: ClassVar[str] = topics.CATALOGUE
    key_field: ClassVar[str] = "offer_id"

    offer_id: UUID
    siret: Siret


class OrganismeRegistered(OrganismeEvent):
    """A training organisation joined the platform."""

    ce_type: ClassVar[str] = "dife.catalogue.organisme_registered.v1"

    name: str
    nda: Nda


class OrganismeAgrementChanged(OrganismeEvent):
    """The ministry granted, renewed or withdrew an organisme's agrément, or it lapsed (R-OF-1)."""

    ce_type: ClassVar[str] = "dife.catalogue.organisme_agrement_changed.v1"

    agrement_id: UUID
    reference: str
    decision_date: date
    valid_from: date
    valid_until: date
    withdrawn_on: date | None = None
    status: AgrementStatus


class OfferLocation(PayloadPart):
    """Where an in-person or mixed training takes place."""

    commune_insee: CommuneCode
    postal_code: PostalCode
    city: str
    department: DepartmentCode
    region: str = Field(description="INSEE code of the région, e.g. `11` for Île-de-France.")


class OfferSession(PayloadPart):
    """One dated run of an offer, with its number of seats (R-OFR-4 caps mandate trainings at 15)."""

    session_id: UUID
    start_date: date
    end_date: date
    capacity: int = Field(ge=1)

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> "OfferSession":
        if self.end_date < self.start_date:
            raise ValueError("a session cannot end before it starts")
        return self


class OfferPublished(OfferEvent):
    """Full snapshot of an offer as now published; each publication replaces the previous one."""

    ce_type: ClassVar[str] = "dife.catalogue.offer_published.v1"

    kind: TrainingPurpose
    title: str
    theme_code: str | None = Field(
        default=None, description="Theme of the répertoire des formations liées au mandat (R-OFR-1)."
    )
    certification_code: str | None = Field(
        default=None, description="RNCP or RS code of a CPF-eligible reinsertion training (R-OFR-2)."
    )
    hours: Hours
    price_ht_cents: Cents
    price_ttc_cents: Cents
    vat_rate_bp: BasisPoints
    modality: Modality
    location: OfferLocation | None = Field(default=None, description="None only for a remote training.")
    sessions: list[OfferSession]
    published_at: AwareDatetime

    @model_validator(mode="after")
    def _is_consistent(self) -> "OfferPublished":
        if self.price_ttc_cents < self.price_ht_cents:
            raise ValueError("the price with VAT cannot be below the price without it")
        if self.location is None and self.modality is not Modality.REMOTE:
            raise ValueError(f"an offer delivered {self.modality} needs a location")
        return self


class OfferWithdrawn(OfferEvent):
    """The organisme or an agent took the offer off the catalogue; no new dossier may be opened on it."""

    ce_type: ClassVar[str] = "dife.catalogue.offer_withdrawn.v1"

    reason: str
    withdrawn_at: AwareDatetime


class SessionCancelled(OfferEvent):
    """One session of an offer will not take place; its dossiers are cancelled by the organisme."""

    ce_type: ClassVar[str] = "dife.catalogue.session_cancelled.v1"

    session_id: UUID
    reason: str


class OfferQualityUpdated(OfferEvent):
    """New evaluations changed the quality scores of an offer and of its organisme (R-DOS-6)."""

    ce_type: ClassVar[str] = "dife.catalogue.offer_quality_updated.v1"

    offer_rating_count: int = Field(ge=1)
    offer_rating_average: RatingAverage
    organisme_rating_count: int = Field(ge=1)
    organisme_rating_average: RatingAverage
