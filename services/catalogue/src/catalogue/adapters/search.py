"""The public search over published offers: French full text, combinable filters, keyset pages, facets.

The hot path of the service (p95 ≤ 30 ms at 200 req/s on 100,000 offers), so the SQL is composed here from
fixed fragments with numbered parameters and run on the request's connection by the driver directly: building
SQLAlchemy expressions for it cost more than the query itself. Values only ever travel as parameters.

Every order ends with the offer id, so a page boundary is a strict position ``(sort key, id)``: an offer
added while a client pages appears at its place (or not at all if before the cursor) and never shifts the
offers already served, so there are neither duplicates nor gaps. ``ts_rank`` has no corpus statistics,
so an offer's relevance does not change when others are added either.
"""

from __future__ import annotations

import math
from dataclasses import fields as dataclass_fields
from datetime import date
from typing import Any

import asyncpg

from catalogue.domain.search import (
    FACETS,
    Facet,
    Position,
    SearchFilters,
    SearchHit,
    SearchResult,
    SortOrder,
)

SEARCH_CONFIG = "fr_unaccent"
KM_PER_DEGREE = 111.19


_FACET_COLUMNS = ("theme_code", "department", "modality")
_TS_QUERY = "websearch_to_tsquery('{config}', catalogue_fold({q}::text))"
_HIT_COLUMNS = (
    "o.id, o.kind, o.title, o.summary, o.certification_code, o.siret, o.city, o.region, o.hours, "
    "o.price_ht_cents, o.price_ttc_cents, o.next_start_date, o.rating_count, o.rating_sum, "
    "o.theme_code, o.department, o.modality"
)
_HIT_NAMES = [column.removeprefix("o.") for column in _HIT_COLUMNS.split(", ")]
# In the facet rows of the same result the hit columns are null, but for the three facet columns: they end the
# hit columns so that the facet values land in them.
_FACET_NULLS = ", ".join(["NULL::uuid"] + ["NULL"] * (len(_HIT_NAMES) - 4))


class _Statement:
    """SQL text with numbered parameters ($1, $2…), as asyncpg takes them."""

    def __init__(self) -> None:
        self.args: list[Any] = []

    def param(self, value: Any, cast: str) -> str:
        self.args.append(value)
        return f"${len(self.args)}::{cast}"


def _ts_query(q: str) -> str:
    return _TS_QUERY.format(config=SEARCH_CONFIG, q=q)


def _distance(filters: SearchFilters, sql: _Statement) -> str | None:
    if filters.near is None:
        return None
    lat, lon = filters.near
    return f"catalogue_distance_km({sql.param(lat, 'float8')}, {sql.param(lon, 'float8')}, o.lat, o.lon)"


def _conditions(
    filters: SearchFilters, sql: _Statement, distance: str | None
) -> tuple[list[str], str | None]:
    """WHERE conditions, and the SQL of the text query when there is one."""
    conditions = ["o.status = 'published'"]
    ts_query = None
    if filters.q:
        ts_query = _ts_query(sql.param(filters.q, "text"))
        conditions.append(f"o.search_vector @@ {ts_query}")
    for value, column in (
        (filters.kind, "kind"),
        (filters.theme, "theme_code"),
        (filters.department, "department"),
        (filters.region, "region"),
        (filters.modality, "modality"),
        (filters.organisme, "siret"),
    ):
        if value is not None:
            conditions.append(f"o.{column} = {sql.param(value, 'text')}")
    if filters.max_price_cents is not None:
        conditions.append(f"o.price_ht_cents <= {sql.param(filters.max_price_cents, 'bigint')}")
    if filters.starts_after is not None or filters.starts_before is not None:
        # The start days of the open sessions live on the offer (a multirange the session writes keep up
        # to date): the date filter is a check on the row, not a join with the sessions.
        after = sql.param(filters.starts_after, "date")
        before = sql.param(filters.starts_before, "date")
        conditions.append(f"o.open_session_starts && daterange({after}, {before}, '[]')")
    if filters.near is not None and filters.radius_km is not None and distance is not None:
        # A bounding box the btree on (lat, lon) can use, then the exact great-circle distance.
        lat, lon = filters.near
        dlat = filters.radius_km / KM_PER_DEGREE
        dlon = filters.radius_km / (KM_PER_DEGREE * max(math.cos(math.radians(lat)), 0.01))
        conditions.append(
            f"o.lat BETWEEN {sql.param(lat - dlat, 'float8')} AND {sql.param(lat + dlat, 'float8')}"
        )
        conditions.append(
            f"o.lon BETWEEN {sql.param(lon - dlon, 'float8')} AND {sql.param(lon + dlon, 'float8')}"
        )
        conditions.append(f"{distance} <= {sql.param(filters.radius_km, 'float8')}")
    return conditions, ts_query


def _sort_key(sort: SortOrder, ts_query: str | None, distance: str | None) -> tuple[str, bool, bool, str]:
    """The sort expression, whether it descends, whether it may be null (nulls last), its SQL type."""
    if sort is SortOrder.RELEVANCE:
        assert ts_query is not None
        # The query as an InitPlan, computed once: inline, PostgreSQL would fold and parse the words again
        # for every matching row (a third of the scan of a broad search). The WHERE keeps the inline form,
        # whose value the planner sees for its estimates.
        return f"ts_rank(o.search_vector, (SELECT {ts_query}))::float8", True, False, "float8"
    if sort is SortOrder.PRICE:
        return "o.price_ht_cents", False, False, "bigint"
    if sort is SortOrder.DISTANCE:
        assert distance is not None
        return distance, False, True, "float8"
    return "o.next_start_date", False, True, "date"


def _after(
    key: str,
    descending: bool,
    nullable: bool,
    sql_type: str,
    position: Position,
    sql: _Statement,
    *,
    id_column: str,
) -> str:
    """Strictly after ``position`` in the order ``key [DESC] NULLS LAST, id``."""
    offer_id = sql.param(position.offer_id, "uuid")
    if position.key is None:
        return f"({key} IS NULL AND {id_column} > {offer_id})"
    value = sql.param(position.key, sql_type)
    beyond = f"{key} {'<' if descending else '>'} {value}"
    condition = f"{beyond} OR ({key} = {value} AND {id_column} > {offer_id})"
    return f"({condition} OR {key} IS NULL)" if nullable else f"({condition})"


def matches_statement(
    filters: SearchFilters, sort: SortOrder, after: Position | None, limit: int
) -> tuple[str, list[Any]]:
    """One scan of the matching offers feeds both the page (``part = 1``) and the facets (``part = 2``); the
    page's offers are read with their organisme in the same statement (one round trip per search)."""
    sql = _Statement()
    distance = _distance(filters, sql)
    conditions, ts_query = _conditions(filters, sql, distance)
    key, descending, nullable, sql_type = _sort_key(sort, ts_query, distance)
    direction = "DESC" if descending else "ASC"
    after_condition = "true"
    if after is not None:
        after_condition = _after("m.sort_key", descending, nullable, sql_type, after, sql, id_column="m.id")
    columns = ", ".join(_FACET_COLUMNS)
    grouping_sets = ", ".join(f"({column})" for column in _FACET_COLUMNS)
    text = (
        f"WITH matched AS MATERIALIZED ("
        f"SELECT o.id, {columns}, {key} AS sort_key, {distance or 'NULL::float8'} AS distance_km "
        f"FROM offers o WHERE {' AND '.join(conditions)}), "
        f"page AS (SELECT m.id, m.sort_key, m.distance_km FROM matched m WHERE {after_condition} "
        f"ORDER BY m.sort_key {direction} NULLS LAST, m.id LIMIT {sql.param(limit + 1, 'int')}) "
        f"SELECT 1 AS part, {_HIT_COLUMNS}, g.name AS organisme_name, "
        f"p.distance_km, p.sort_key::text AS sort_key, NULL::int AS grouping, NULL::bigint AS n "
        f"FROM page p JOIN offers o ON o.id = p.id JOIN organismes g ON g.siret = o.siret "
        f"UNION ALL "
        f"SELECT 2, {_FACET_NULLS}, {columns}, NULL, NULL, NULL, GROUPING({columns}), count(*) "
        f"FROM matched GROUP BY GROUPING SETS ({grouping_sets})"
    )
    return text, sql.args


_SORT_VALUE: dict[SortOrder, Any] = {
    SortOrder.RELEVANCE: float,
    SortOrder.DISTANCE: float,
    SortOrder.PRICE: int,
    SortOrder.START_DATE: date.fromisoformat,
}


async def search_offers(
    driver: Any,
    filters: SearchFilters,
    *,
    sort: SortOrder,
    after: Position | None,
    limit: int,
) -> SearchResult:
    """Run the search on a driver (asyncpg) connection: one statement, so one consistent snapshot."""
    rows = await driver.fetch(*_flatten(matches_statement(filters, sort, after, limit)))
    page = []
    facet_counts: dict[str, dict[str, int]] = {name: {} for name in FACETS}
    total = 0
    for row in rows:
        if row[0] == 1:
            page.append(row)
            continue
        name, column = _FACET_OF_GROUPING[row["grouping"]]
        value, count = row[column], row["n"]
        if name == "modality":
            total += count
        if value is not None:
            facet_counts[name][value] = count
    page.sort(key=lambda row: _order_key(row, sort))
    sort_value = _SORT_VALUE[sort]
    hits = []
    for row in page[:limit]:
        values = [row[column] for column in _HIT_FIELD_COLUMNS]
        values.append(None if row["sort_key"] is None else sort_value(row["sort_key"]))
        hits.append(SearchHit(*values))
    facets = {
        name: [Facet(value, n) for value, n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]
        for name, counts in facet_counts.items()
    }
    return SearchResult(hits=hits, has_more=len(page) > limit, total=total, facets=facets)


# GROUPING() sets a bit per column left out of the group, the first column being the highest bit: the facet
# (and its column) each grouping value of a facet row stands for.
_FACET_OF_GROUPING: dict[int, tuple[str, str]] = {
    (1 << len(FACETS)) - 1 - (1 << (len(FACETS) - 1 - position)): (name, _FACET_COLUMNS[position])
    for position, name in enumerate(FACETS)
}
# The page row's columns in the order of ``SearchHit``'s fields but the last (``sort_key``, parsed), so that
# a hit is built from its row without an intermediate dict (this runs for each hit of each search).
_HIT_FIELD_COLUMNS = tuple(field.name for field in dataclass_fields(SearchHit))[:-1]


def _order_key(row: Any, sort: SortOrder) -> tuple[Any, ...]:
    """The page's order again (UNION ALL does not keep it): the sort key, nulls last, then the id."""
    raw = row["sort_key"]
    if raw is None:
        return (1, 0, row["id"])
    value = _SORT_VALUE[sort](raw)
    if sort is SortOrder.RELEVANCE:
        value = -value
    return (0, value, row["id"])


def _flatten(statement: tuple[str, list[Any]]) -> list[Any]:
    text, args = statement
    return [text, *args]


async def _keep_session(connection: asyncpg.Connection) -> None:
    """Nothing to undo between two searches: a search is one read-only statement that sets no session state,
    so the pool's default reset (``RESET ALL``, ``UNLISTEN *``, ``CLOSE ALL``, unlock all: one more round trip
    and four statements for PostgreSQL to run per search) is skipped. asyncpg still rolls back a transaction
    left open."""


async def open_search_pool(dsn: str, *, max_size: int, generic_plans: bool = False) -> asyncpg.Pool:
    """A plain asyncpg pool for the search (libpq-form ``dsn``), without the per-release reset; with
    ``generic_plans``, its connections plan each statement shape once (see ``SqlOfferIndex``)."""
    settings = {"plan_cache_mode": "force_generic_plan"} if generic_plans else {}
    return await asyncpg.create_pool(
        dsn,
        min_size=1,
        max_size=max_size,
        reset=_keep_session,
        server_settings=settings,
        # Idle connections stay open: no timer to arm and cancel on every release.
        max_inactive_connection_lifetime=0,
    )


class SqlOfferIndex:
    """The ``OfferIndex`` of the use cases: a connection per search, one statement.

    A search with words and no radius runs on ``text_pool``, whose connections keep one generic plan per
    statement shape: whatever the words and filter values, the best plan is the same bitmap scan of the GIN
    index on the text and the equality filters (``offers_pub_text_filters``), and planning the statement
    again for every search cost PostgreSQL as much CPU as running it. The other searches keep a plan made
    for their values (the database's ``force_custom_plan``), as the best index depends on them: without
    words, an organisme's SIRET, a département or every remote offer; with a radius, the bounding box on
    (lat, lon), whose size decides between that btree and the text."""

    def __init__(self, text_pool: asyncpg.Pool, other_pool: asyncpg.Pool) -> None:
        self._text_pool = text_pool
        self._other_pool = other_pool

    async def search(
        self, filters: SearchFilters, *, sort: SortOrder, after: Position | None, limit: int
    ) -> SearchResult:
        pool = self._text_pool if filters.q and filters.radius_km is None else self._other_pool
        async with pool.acquire() as connection:
            return await search_offers(connection, filters, sort=sort, after=after, limit=limit)
