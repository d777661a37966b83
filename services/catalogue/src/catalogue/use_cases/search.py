"""The public national search: published offers, French full text, filters, facets, keyset pages."""

from __future__ import annotations

from catalogue.domain.search import Position, SearchFilters, SearchResult, SortOrder
from catalogue.use_cases.ports import OfferIndex


async def search_offers(
    index: OfferIndex, filters: SearchFilters, *, sort: SortOrder, after: Position | None, limit: int
) -> SearchResult:
    """One page of the offers matching ``filters`` in ``sort`` order after ``after``, with the facets."""
    return await index.search(filters, sort=sort, after=after, limit=limit)
