"""The public search over published offers: French full text, combinable filters, keyset pages, facets.

Every order ends with the offer id, so a page boundary is a strict position ``(sort key, id)``: an offer
added while a client pages appears at its place (or not at all if before the cursor) and never shifts the
offers already served, so there are neither duplicates nor gaps. ``ts_rank_cd`` has no corpus statistics,
so an offer's relevance does not change when others are added either.
"""

from __future__ import annotations

import math
import uuid
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, cast, func, literal, literal_column, or_, select
from sqlalchemy.dialects.postgresql import DOUBLE_PRECISION
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.adapters.tables import offers, organismes

SEARCH_CONFIG = "fr_unaccent"
KM_PER_DEGREE = 111.19


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


FACETS = ("theme", "department", "modality")
_FACET_COLUMNS = {
    "theme": offers.c.theme_code,
    "department": offers.c.department,
    "modality": offers.c.modality,
}


def effective_sort(requested: SortOrder | None, filters: SearchFilters) -> SortOrder:
    """Relevance when there is text to rank, else the soonest session first."""
    if requested is None:
        return SortOrder.RELEVANCE if filters.q else SortOrder.START_DATE
    if requested is SortOrder.RELEVANCE and not filters.q:
        return SortOrder.START_DATE
    return requested


def _ts_query(q: str) -> ColumnElement[Any]:
    config: ColumnElement[Any] = literal_column(f"'{SEARCH_CONFIG}'::regconfig")
    return func.websearch_to_tsquery(config, func.catalogue_fold(q))


def _distance(near: tuple[float, float]) -> ColumnElement[float]:
    return func.catalogue_distance_km(near[0], near[1], offers.c.lat, offers.c.lon)


def _where(filters: SearchFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = [offers.c.status == "published"]
    if filters.q:
        conditions.append(offers.c.search_vector.op("@@")(_ts_query(filters.q)))
    for value, column in (
        (filters.kind, offers.c.kind),
        (filters.theme, offers.c.theme_code),
        (filters.department, offers.c.department),
        (filters.region, offers.c.region),
        (filters.modality, offers.c.modality),
        (filters.organisme, offers.c.siret),
    ):
        if value is not None:
            conditions.append(column == value)
    if filters.max_price_cents is not None:
        conditions.append(offers.c.price_ht_cents <= filters.max_price_cents)
    if filters.starts_after is not None or filters.starts_before is not None:
        # The start days of the open sessions live on the offer (a multirange the session writes keep up
        # to date): the date filter is a check on the row, not a join with the sessions.
        window = func.daterange(filters.starts_after, filters.starts_before, "[]")
        conditions.append(offers.c.open_session_starts.op("&&")(window))
    if filters.near is not None and filters.radius_km is not None:
        lat, lon = filters.near
        # A bounding box the btree on (lat, lon) can use, then the exact great-circle distance.
        dlat = filters.radius_km / KM_PER_DEGREE
        dlon = filters.radius_km / (KM_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
        conditions.append(offers.c.lat.between(lat - dlat, lat + dlat))
        conditions.append(offers.c.lon.between(lon - dlon, lon + dlon))
        conditions.append(_distance(filters.near) <= filters.radius_km)
    return conditions


def _sort_key(sort: SortOrder, filters: SearchFilters) -> tuple[ColumnElement[Any], bool, bool]:
    """The sort expression, whether it descends, whether it may be null (nulls always come last)."""
    if sort is SortOrder.RELEVANCE:
        assert filters.q
        rank = func.ts_rank_cd(offers.c.search_vector, _ts_query(filters.q))
        return cast(rank, DOUBLE_PRECISION), True, False
    if sort is SortOrder.PRICE:
        return offers.c.price_ht_cents, False, False
    if sort is SortOrder.DISTANCE:
        assert filters.near is not None
        return _distance(filters.near), False, True
    return offers.c.next_start_date, False, True


def _after(
    key: ColumnElement[Any], descending: bool, nullable: bool, position: Position
) -> ColumnElement[bool]:
    """Strictly after ``position`` in the order ``key [DESC] NULLS LAST, id``."""
    if position.key is None:
        return and_(key.is_(None), offers.c.id > position.offer_id)
    beyond = key < position.key if descending else key > position.key
    condition = or_(beyond, and_(key == position.key, offers.c.id > position.offer_id))
    return or_(condition, key.is_(None)) if nullable else condition


def _page_statement(
    filters: SearchFilters, sort: SortOrder, after: Position | None, limit: int
) -> Select[Any]:
    key, descending, nullable = _sort_key(sort, filters)
    sort_key = key.label("sort_key")
    distance = _distance(filters.near) if filters.near is not None else literal(None)
    conditions = _where(filters)
    if after is not None:
        conditions.append(_after(key, descending, nullable, after))
    ordering = key.desc() if descending else key.asc()
    page = (
        select(
            offers.c.id,
            offers.c.kind,
            offers.c.title,
            offers.c.summary,
            offers.c.theme_code,
            offers.c.certification_code,
            offers.c.siret,
            offers.c.modality,
            offers.c.city,
            offers.c.department,
            offers.c.region,
            offers.c.hours,
            offers.c.price_ht_cents,
            offers.c.price_ttc_cents,
            offers.c.next_start_date,
            offers.c.rating_count,
            offers.c.rating_sum,
            distance.label("distance_km"),
            sort_key,
        )
        .where(*conditions)
        .order_by(ordering.nulls_last(), offers.c.id)
        .limit(limit + 1)
        .subquery("page")
    )
    # The organisme's name is joined to the page only, not to every match.
    outer_order = page.c.sort_key.desc() if descending else page.c.sort_key.asc()
    return (
        select(page, organismes.c.name.label("organisme_name"))
        .join(organismes, organismes.c.siret == page.c.siret)
        .order_by(outer_order.nulls_last(), page.c.id)
    )


def _facet_statement(filters: SearchFilters) -> Select[Any]:
    columns = [_FACET_COLUMNS[name] for name in FACETS]
    return (
        select(*columns, func.grouping(*columns).label("grouping"), func.count().label("n"))
        .where(*_where(filters))
        .group_by(func.grouping_sets(*columns))
    )


async def search_offers(
    session: AsyncSession,
    filters: SearchFilters,
    *,
    sort: SortOrder,
    after: Position | None,
    limit: int,
) -> SearchResult:
    rows = (await session.execute(_page_statement(filters, sort, after, limit))).all()
    hits = [SearchHit(**row._asdict()) for row in rows[:limit]]
    result = SearchResult(hits=hits, has_more=len(rows) > limit, total=0)
    facet_counts: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    for row in (await session.execute(_facet_statement(filters))).all():
        # GROUPING() sets a bit per column left out of the group: 0b011 is the last column's group, and so on.
        for position, name in enumerate(FACETS):
            if row.grouping == (1 << len(FACETS)) - 1 - (1 << (len(FACETS) - 1 - position)):
                value = row[position]
                if name == "modality":
                    result.total += row.n
                if value is not None:
                    facet_counts[name][value] = row.n
    result.facets = {
        name: [Facet(value, n) for value, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
        for name, counts in facet_counts.items()
    }
    return result
