"""The search's SQL is composed from fixed fragments: values only ever travel as parameters."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from catalogue.adapters.search import matches_statement
from catalogue.api.search import _position
from catalogue.domain.search import Position, SearchFilters, SortOrder, effective_sort
from servicekit.pagination import InvalidCursor, encode_cursor


def test_default_order_is_relevance_with_text_else_the_soonest_session() -> None:
    assert effective_sort(None, SearchFilters(q="budget")) is SortOrder.RELEVANCE
    assert effective_sort(None, SearchFilters()) is SortOrder.START_DATE
    assert effective_sort(SortOrder.RELEVANCE, SearchFilters()) is SortOrder.START_DATE
    assert effective_sort(SortOrder.PRICE, SearchFilters(q="budget")) is SortOrder.PRICE


def test_user_input_never_reaches_the_sql_text() -> None:
    hostile = "'; DROP TABLE offers; --"
    filters = SearchFilters(
        q=hostile,
        kind="mandate",
        theme=hostile,
        department="69",
        region="84",
        modality="in_person",
        starts_after=date(2027, 1, 1),
        starts_before=date(2027, 3, 31),
        max_price_cents=50_000,
        organisme="73282932000074",
        near=(45.76, 4.83),
        radius_km=30,
    )
    after = Position(key=1.5, offer_id=uuid.uuid4())
    text, args = matches_statement(filters, SortOrder.DISTANCE, after, 20)
    assert hostile not in text
    assert "DROP" not in text
    assert args.count(hostile) == 2
    assert f"${len(args)}::" in text
    assert f"${len(args) + 1}" not in text


@pytest.mark.parametrize(
    ("sort", "key"),
    [(SortOrder.RELEVANCE, 0.25), (SortOrder.PRICE, 12_000), (SortOrder.START_DATE, date(2027, 1, 4))],
)
def test_a_cursor_resumes_its_own_sort_only(sort: SortOrder, key: object) -> None:
    offer_id = uuid.uuid4()
    cursor = encode_cursor((sort.value, key, offer_id))
    assert _position(cursor, sort) == Position(key=key, offer_id=offer_id)
    other = SortOrder.PRICE if sort is not SortOrder.PRICE else SortOrder.START_DATE
    with pytest.raises(InvalidCursor):
        _position(cursor, other)


def test_a_forged_cursor_is_refused() -> None:
    with pytest.raises(InvalidCursor):
        _position(encode_cursor(("price", "12000", uuid.uuid4())), SortOrder.PRICE)
    with pytest.raises(InvalidCursor):
        _position(encode_cursor(("price", 12_000, "not-a-uuid")), SortOrder.PRICE)
