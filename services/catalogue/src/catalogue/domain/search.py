"""What a search asks and what it finds: the filters, the orders, the page position, hits and facets.

Plain data and the one decision that is not SQL (which order applies); the SQL lives in ``adapters/search``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

FACETS = ("theme", "department", "modality")


class SortOrder(StrEnum):
    RELEVANCE = "relevance"
    START_DATE = "start_date"
    PRICE = "price"
    DISTANCE = "distance"


@dataclass(frozen=True, slots=True)
class SearchFilters:
    q: str | None = None
    kind: str | None = None
    theme: str | None = None
    department: str | None = None
    region: str | None = None
    modality: str | None = None
    starts_after: date | None = None
    starts_before: date | None = None
    max_price_cents: int | None = None
    organisme: str | None = None
    near: tuple[float, float] | None = None
    radius_km: float | None = None


@dataclass(frozen=True, slots=True)
class Position:
    """Where the previous page ended: its last offer's sort key and id."""

    key: Any
    offer_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class SearchHit:
    id: uuid.UUID
    kind: str
    title: str
    summary: str
    theme_code: str | None
    certification_code: str | None
    siret: str
    organisme_name: str
    modality: str
    city: str | None
    department: str | None
    region: str | None
    hours: Decimal
    price_ht_cents: int
    price_ttc_cents: int
    next_start_date: date | None
    rating_count: int
    rating_sum: int
    distance_km: float | None
    sort_key: Any


@dataclass(frozen=True, slots=True)
class Facet:
    value: str
    count: int


@dataclass(slots=True)
class SearchResult:
    hits: list[SearchHit]
    has_more: bool
    total: int
    facets: dict[str, list[Facet]] = field(default_factory=dict)


def effective_sort(requested: SortOrder | None, filters: SearchFilters) -> SortOrder:
    """Relevance when there is text to rank, else the soonest session first."""
    if requested is None:
        return SortOrder.RELEVANCE if filters.q else SortOrder.START_DATE
    if requested is SortOrder.RELEVANCE and not filters.q:
        return SortOrder.START_DATE
    return requested
