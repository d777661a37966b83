"""Request and response models of offers and sessions (shared by the offer routes and the search)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any

from dife_contracts.enums import Modality, TrainingPurpose
from dife_contracts.money import Cents
from dife_contracts.values import CommuneCode, DepartmentCode, PostalCode
from pydantic import BaseModel, Field, StringConstraints, model_validator

from catalogue.domain.quality import Quality

RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]
SiretField = Annotated[str, StringConstraints(pattern=r"^\d{14}$")]
HoursIn = Annotated[Decimal, Field(gt=0, max_digits=6, decimal_places=2, examples=["7", "10.5"])]
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


class SubcontractingIn(BaseModel):
    siret: SiretField
    share_percent: SharePercent = Field(
        description="Share of the teaching cost subcontracted (R-OFR-5: ≤ 45)"
    )


class OfferFields(BaseModel):
    """Fields an organisme sets on an offer (all optional in a PATCH)."""

    title: str | None = Field(default=None, min_length=3, max_length=200)
    summary: str | None = Field(default=None, max_length=4000)
    objectives: str | None = Field(default=None, max_length=4000)
    theme_code: str | None = Field(default=None, description="Mandate trainings: a theme of GET /v1/themes")
    certification_code: str | None = Field(
        default=None, description="Reinsertion trainings: RNCP…, RS…, VAE, BILAN-COMPETENCES, PERMIS-<cat>"
    )
    hours: HoursIn | None = None
    price_ht_cents: Cents | None = None
    vat_rate: VatRate | None = None
    modality: Modality | None = None
    location: Location | None = None
    subcontracting: SubcontractingIn | None = None


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


class SessionIn(BaseModel):
    start_date: date
    end_date: date
    capacity: int = Field(ge=1, le=10_000, description="Seats (R-OFR-4: at most 15 for a mandate training)")

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


class QualityOut(BaseModel):
    rating_count: int
    rating_average: Decimal | None = Field(description="Mean of the evaluations, 1.00 to 5.00 (R-DOS-6)")

    @classmethod
    def of(cls, count: int, rating_sum: int) -> QualityOut:
        quality = Quality(count, rating_sum)
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
    hours: Decimal
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


def vat_basis_points(rate: Decimal) -> int:
    return int(rate * 100)


def price_ttc_cents(price_ht_cents: int, vat_rate_bp: int) -> int:
    """HT plus VAT, rounded half up to the cent once."""
    vat = (Decimal(price_ht_cents) * vat_rate_bp / 10_000).quantize(Decimal(1), ROUND_HALF_UP)
    return price_ht_cents + int(vat)


def location_of(row: Any) -> Location | None:
    if row.department is None:
        return None
    return Location(
        commune_insee=row.commune_insee,
        postal_code=row.postal_code,
        city=row.city,
        department=row.department,
        region=row.region,
        lat=row.lat,
        lon=row.lon,
    )
