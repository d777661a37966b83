"""Read models the catalogue shows as they are stored: lists and counters, no rule to decide on them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from dife_contracts.enums import TrainingPurpose

from catalogue.domain.offers import OfferStatus
from catalogue.domain.quality import Quality


@dataclass(frozen=True, slots=True)
class ThemeListing:
    """A theme of the répertoire (R-OFR-1) with its family, as ``GET /v1/themes`` lists it."""

    code: str
    label: str
    family: str
    family_label: str


@dataclass(frozen=True, slots=True)
class OfferListing:
    """One line of an organisme's own list of offers, every status."""

    id: uuid.UUID
    status: OfferStatus
    kind: TrainingPurpose
    title: str
    next_start_date: date | None
    created_at: datetime


@dataclass(frozen=True, slots=True)
class RatedOffer:
    """The running scores of an offer and of its organisme after one more evaluation (R-DOS-6)."""

    offer_id: uuid.UUID
    siret: str
    offer_quality: Quality
    organisme_quality: Quality
