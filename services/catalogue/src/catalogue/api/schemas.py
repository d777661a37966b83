"""Request and response models of the catalogue, and their mapping to and from the domain.

Input is strict where a lax parse would invent a value: integers are JSON integers (no ``"12"``, no
``12.0``), dates are ISO strings (no ``0`` read as 1970-01-01). NUL characters and integers beyond int64 are
refused before any route by servicekit's guard. Output writes ``hours`` as a JSON number.
"""

from __future__ import annotations

import re
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any

from dife_contracts.enums import Modality, TrainingPurpose
from dife_contracts.money import Cents
from dife_contracts.values import CommuneCode, DepartmentCode, Nda, PostalCode
from pydantic import (
    BaseModel,
    BeforeValidator,
    Field,
    PlainSerializer,
    StrictInt,
    StringConstraints,
    field_validator,
    model_validator,
)

from catalogue.domain.listings import OfferListing, ThemeListing
from catalogue.domain.offers import ContentChanges, Offer, OfferContent, OfferSession, Subcontracting
from catalogue.domain.offers import Location as DomainLocation
from catalogue.domain.organismes import Address as DomainAddress
from catalogue.domain.organismes import Agrement, Organisme, agrement_dates_problem, normalise_siret
from catalogue.domain.quality import Quality
from catalogue.use_cases.organismes import OrganismeRecord

MAX_BIGINT = 2**63 - 1
"""The largest integer PostgreSQL's ``bigint`` holds: a larger one in a query was a 500."""


_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _iso_date_only(value: Any) -> Any:
    """A date is written ``YYYY-MM-DD``; a number (``0``, a timestamp) is refused, not read as a date."""
    if isinstance(value, date) or (isinstance(value, str) and _ISO_DATE.match(value)):
        return value
    raise ValueError("a date is written YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date_only)]

RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]
SiretField = Annotated[str, StringConstraints(pattern=r"^\d{14}$")]
HoursIn = Annotated[Decimal, Field(gt=0, max_digits=6, decimal_places=2, examples=[7, 10.5])]
HoursOut = Annotated[Decimal, PlainSerializer(float, return_type=float, when_used="json")]
"""Hours as a JSON number (``7``, ``10.5``): they have at most two decimals, exact in a double."""
VatRate = Annotated[
    Decimal,
    Field(ge=0, le=100, max_digits=5, decimal_places=2, description="VAT rate in percent (0 if exempt)"),
]
SharePercent = Annotated[Decimal, Field(gt=0, le=100, max_digits=5, decimal_places=2)]


class Location(BaseModel):
    commune_insee: CommuneCode
    postal_code: PostalCode
    city: str = Field(min_length=1, max_length=120)
    department: DepartmentCode
    region: RegionCode = Field(description="INSEE code of the région, e.g. `84`")
    lat: float = Field(ge=-90, le=90)
    lon: float = Field(ge=-180, le=180)

    def to_domain(self) -> DomainLocation:
        return DomainLocation(**self.model_dump())

    @classmethod
    def of(cls, location: DomainLocation | None) -> Location | None:
        if location is None:
            return None
        return cls(
            commune_insee=location.commune_insee,
            postal_code=location.postal_code,
            city=location.city,
            department=location.department,
            region=location.region,
            lat=location.lat,
            lon=location.lon,
        )


class SubcontractingIn(BaseModel):
    siret: SiretField
    share_percent: SharePercent = Field(
        description="Share of the teaching cost subcontracted (R-OFR-5: ≤ 45)"
    )

    def to_domain(self) -> Subcontracting:
        """The share with its two decimals, as stored (``45`` is ``45.00``)."""
        return Subcontracting(self.siret, self.share_percent.quantize(Decimal("0.01")))


def vat_basis_points(rate: Decimal) -> int:
    return int(rate * 100)


class OfferFields(BaseModel):
    """Fields an organisme sets on an offer (all optional in a PATCH)."""

    title: str | None = Field(default=None, min_length=3, max_length=200)
    summary: str | None = Field(default=None, max_length=4000)
    objectives: str | None = Field(default=None, max_length=4000)
    theme_code: str | None = Field(
        default=None, max_length=20, description="Mandate trainings: a theme of GET /v1/themes"
    )
    certification_code: str | None = Field(
        default=None,
        max_length=40,
        description="Reinsertion trainings: RNCP…, RS…, VAE, BILAN-COMPETENCES, PERMIS-<cat>",
    )
    hours: HoursIn | None = None
    price_ht_cents: Cents | None = None
    vat_rate: VatRate | None = None
    modality: Modality | None = None
    location: Location | None = None
    subcontracting: SubcontractingIn | None = None

    def changes(self) -> ContentChanges:
        """The content fields this PATCH sets, as domain values (a null text field or price is ignored;
        a null theme, certification, location or subcontracting clears it)."""
        sent = self.model_fields_set
        changes = ContentChanges()
        if "title" in sent and self.title is not None:
            changes["title"] = self.title
        if "summary" in sent and self.summary is not None:
            changes["summary"] = self.summary
        if "objectives" in sent and self.objectives is not None:
            changes["objectives"] = self.objectives
        if "hours" in sent and self.hours is not None:
            changes["hours"] = self.hours
        if "price_ht_cents" in sent and self.price_ht_cents is not None:
            changes["price_ht_cents"] = self.price_ht_cents
        if "modality" in sent and self.modality is not None:
            changes["modality"] = self.modality
        if "theme_code" in sent:
            changes["theme_code"] = self.theme_code
        if "certification_code" in sent:
            changes["certification_code"] = self.certification_code
        if "vat_rate" in sent and self.vat_rate is not None:
            changes["vat_rate_bp"] = vat_basis_points(self.vat_rate)
        if "location" in sent:
            changes["location"] = self.location.to_domain() if self.location else None
        if "subcontracting" in sent:
            changes["subcontracting"] = self.subcontracting.to_domain() if self.subcontracting else None
        return changes


class OfferIn(OfferFields):
    kind: TrainingPurpose
    title: str = Field(min_length=3, max_length=200)
    summary: str = Field(default="", max_length=4000)
    objectives: str = Field(default="", max_length=4000)
    hours: HoursIn
    price_ht_cents: Cents
    vat_rate: VatRate = Decimal(0)
    modality: Modality
    siret: SiretField | None = Field(
        default=None, description="The selling organisme: an organisme's own (default), required from agents"
    )

    @model_validator(mode="after")
    def _located_unless_remote(self) -> OfferIn:
        if self.location is None and self.modality is not Modality.REMOTE:
            raise ValueError("an in-person or mixed training needs a location")
        return self

    def content(self) -> OfferContent:
        return OfferContent(
            kind=self.kind,
            title=self.title,
            summary=self.summary,
            objectives=self.objectives,
            theme_code=self.theme_code,
            certification_code=self.certification_code,
            hours=self.hours,
            price_ht_cents=self.price_ht_cents,
            vat_rate_bp=vat_basis_points(self.vat_rate),
            modality=self.modality,
            location=self.location.to_domain() if self.location else None,
            subcontracting=self.subcontracting.to_domain() if self.subcontracting else None,
        )


class SessionIn(BaseModel):
    start_date: IsoDate
    end_date: IsoDate
    capacity: StrictInt = Field(
        ge=1, le=10_000, description="Seats (R-OFR-4: at most 15 for a mandate training)"
    )

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> SessionIn:
        if self.end_date < self.start_date:
            raise ValueError("a session cannot end before it starts")
        return self


class ReasonIn(BaseModel):
    reason: str = Field(default="", max_length=1000)


class SessionOut(BaseModel):
    id: uuid.UUID
    start_date: date
    end_date: date
    capacity: int
    seats_taken: int
    seats_left: int
    status: str

    @classmethod
    def of(cls, session: OfferSession) -> SessionOut:
        return cls(
            id=session.id,
            start_date=session.start_date,
            end_date=session.end_date,
            capacity=session.capacity,
            seats_taken=session.seats_taken,
            seats_left=session.seats_left,
            status=session.status.value,
        )


class QualityOut(BaseModel):
    """The running score of an offer or of an organisme (R-DOS-6)."""

    rating_count: int
    rating_average: Decimal | None = Field(description="Mean of the evaluations, 1.00 to 5.00 (R-DOS-6)")

    @classmethod
    def of(cls, quality: Quality) -> QualityOut:
        return cls(rating_count=quality.count, rating_average=quality.average)


class SubcontractingOut(BaseModel):
    siret: str
    share_percent: Decimal


class OfferOut(BaseModel):
    id: uuid.UUID
    siret: str
    organisme_name: str
    status: str
    kind: TrainingPurpose
    title: str
    summary: str
    objectives: str
    theme_code: str | None
    theme_label: str | None
    certification_code: str | None
    hours: HoursOut
    price_ht_cents: int
    vat_rate: Decimal
    price_ttc_cents: int
    modality: Modality
    location: Location | None
    subcontracting: SubcontractingOut | None
    sessions: list[SessionOut] = Field(description="Open sessions with their seats left")
    quality: QualityOut
    published_at: datetime | None
    withdrawn_at: datetime | None

    @classmethod
    def of(cls, offer: Offer) -> OfferOut:
        content = offer.content
        sub = content.subcontracting
        return cls(
            id=offer.id,
            siret=offer.siret,
            organisme_name=offer.organisme_name,
            status=offer.status.value,
            kind=content.kind,
            title=content.title,
            summary=content.summary,
            objectives=content.objectives,
            theme_code=content.theme_code,
            theme_label=content.theme_label,
            certification_code=content.certification_code,
            hours=content.hours,
            price_ht_cents=content.price_ht_cents,
            vat_rate=Decimal(content.vat_rate_bp) / 100,
            price_ttc_cents=content.price_ttc_cents,
            modality=content.modality,
            location=Location.of(content.location),
            subcontracting=SubcontractingOut(siret=sub.siret, share_percent=sub.share_percent)
            if sub
            else None,
            sessions=[SessionOut.of(s) for s in offer.open_sessions],
            quality=QualityOut.of(offer.quality),
            published_at=offer.published_at,
            withdrawn_at=offer.withdrawn_at,
        )


class OwnOffer(BaseModel):
    id: uuid.UUID
    status: str
    kind: str
    title: str
    next_start_date: date | None
    created_at: datetime

    @classmethod
    def of(cls, listing: OfferListing) -> OwnOffer:
        return cls(
            id=listing.id,
            status=listing.status.value,
            kind=listing.kind.value,
            title=listing.title,
            next_start_date=listing.next_start_date,
            created_at=listing.created_at,
        )


class ThemeOut(BaseModel):
    code: str
    label: str
    family: str
    family_label: str

    @classmethod
    def of(cls, theme: ThemeListing) -> ThemeOut:
        return cls(code=theme.code, label=theme.label, family=theme.family, family_label=theme.family_label)


# Organismes and agréments ----------------------------------------------------------------------------


class Address(BaseModel):
    street: str | None = Field(default=None, max_length=300)
    postal_code: PostalCode | None = None
    city: str | None = Field(default=None, max_length=120)


class OrganismeIn(BaseModel):
    siret: str = Field(description="14 digits, checked with its Luhn key", examples=["73282932000074"])
    name: str = Field(min_length=1, max_length=300)
    nda: Nda = Field(description="Numéro de déclaration d'activité (11 digits)")
    address: Address | None = None

    @field_validator("siret")
    @classmethod
    def _valid_siret(cls, value: str) -> str:
        siret = normalise_siret(value)
        if siret is None:
            raise ValueError("not a valid SIRET (14 digits with a valid Luhn key)")
        return siret

    def to_domain(self) -> Organisme:
        address = self.address or Address()
        return Organisme(
            siret=self.siret,
            name=self.name,
            nda=self.nda,
            address=DomainAddress(street=address.street, postal_code=address.postal_code, city=address.city),
        )


class AgrementIn(BaseModel):
    reference: str = Field(min_length=1, max_length=100, examples=["AGR-CNFEL-2026-0042"])
    decision_date: IsoDate
    valid_from: IsoDate
    valid_until: IsoDate

    @model_validator(mode="after")
    def _dates_in_order(self) -> AgrementIn:
        problem = agrement_dates_problem(self.decision_date, self.valid_from, self.valid_until)
        if problem is not None:
            raise ValueError(problem)
        return self


class WithdrawalIn(BaseModel):
    date: IsoDate
    reason: str = Field(min_length=1, max_length=1000)


class AgrementOut(BaseModel):
    id: uuid.UUID
    reference: str
    decision_date: date
    valid_from: date
    valid_until: date
    withdrawn_on: date | None
    withdrawal_reason: str | None

    @classmethod
    def of(cls, agrement: Agrement) -> AgrementOut:
        return cls(
            id=agrement.id,
            reference=agrement.reference,
            decision_date=agrement.decision_date,
            valid_from=agrement.valid_from,
            valid_until=agrement.valid_until,
            withdrawn_on=agrement.withdrawn_on,
            withdrawal_reason=agrement.withdrawal_reason,
        )


class OrganismeOut(BaseModel):
    siret: str
    name: str
    nda: str
    address: Address
    accredited_today: bool = Field(description="An agrément is valid today (R-OF-1)")
    agrements: list[AgrementOut] = Field(description="Every agrément ever granted, withdrawals included")
    quality: QualityOut

    @classmethod
    def of(cls, record: OrganismeRecord) -> OrganismeOut:
        organisme = record.organisme
        address = organisme.address
        return cls(
            siret=organisme.siret,
            name=organisme.name,
            nda=organisme.nda,
            address=Address(street=address.street, postal_code=address.postal_code, city=address.city),
            accredited_today=record.accredited_today,
            agrements=[AgrementOut.of(a) for a in record.agrements],
            quality=QualityOut.of(organisme.quality),
        )
