"""Opaque cursor (keyset) pagination: `?cursor=…&limit=…` in, `{"items": […], "next_cursor": …}` out.

A cursor holds the sort-key values of the last item served, e.g. `(created_at, id)`, so the next page is
`WHERE (created_at, id) > (:a, :b)`: stable under concurrent inserts and as fast on page 1,000 as on page 1.
It is only base64 of JSON, not a secret: a client can forge one, so queries must still apply the caller's
ownership filters, and `decode_cursor(..., types=...)` checks the shape before it reaches SQL.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Generic, Self, TypeVar
from uuid import UUID

from fastapi import Depends, Query
from pydantic import BaseModel

from servicekit.errors import DomainError, problem_type

MAX_CURSOR_LENGTH = 1024
DEFAULT_LIMIT = 50
MAX_LIMIT = 500

T = TypeVar("T")


class InvalidCursor(DomainError):
    status = 422
    type = problem_type("invalid-cursor")
    title = "Invalid pagination cursor"

    def __init__(
        self, detail: str = "the cursor is not one this API returned; start again without it"
    ) -> None:
        super().__init__(detail)


_TAGS: dict[str, Callable[[str], Any]] = {
    "uuid": UUID,
    "datetime": datetime.fromisoformat,
    "date": date.fromisoformat,
}


def _tagged(value: Any) -> Any:
    """JSON has no UUID or datetime: tag them so they decode to the same type, not to strings."""
    if isinstance(value, UUID):
        return {"uuid": str(value)}
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    if value is None or isinstance(value, str | int | float | bool):
        return value
    raise TypeError(f"cannot put a {type(value).__name__} in a cursor")


def _untagged(value: Any) -> Any:
    if isinstance(value, dict):
        if len(value) != 1:
            raise InvalidCursor()
        ((tag, text),) = value.items()
        if tag not in _TAGS or not isinstance(text, str):
            raise InvalidCursor()
        try:
            return _TAGS[tag](text)
        except ValueError as error:
            raise InvalidCursor() from error
    if isinstance(value, list):
        raise InvalidCursor()
    return value


def encode_cursor(values: tuple[Any, ...]) -> str:
    """An opaque, URL-safe cursor for sort-key values: str, int, float, bool, None, UUID, date(time)."""
    payload = json.dumps([_tagged(value) for value in values], separators=(",", ":"))
    return base64.urlsafe_b64encode(payload.encode()).decode("ascii").rstrip("=")


def decode_cursor(cursor: str, *, types: Sequence[type] | None = None) -> tuple[Any, ...]:
    """The values `encode_cursor` was given; `InvalidCursor` (422) on anything else.

    With `types`, each value must be an instance of the type at its position (None allowed), so a forged
    cursor cannot push a string where the query binds an integer.
    """
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        payload = json.loads(raw)
    except (binascii.Error, ValueError) as error:
        raise InvalidCursor() from error
    if not isinstance(payload, list):
        raise InvalidCursor()
    values = tuple(_untagged(value) for value in payload)
    if types is not None:
        _check_types(values, types)
    return values


def _check_types(values: tuple[Any, ...], types: Sequence[type]) -> None:
    if len(values) != len(types):
        raise InvalidCursor()
    for value, expected in zip(values, types, strict=True):
        if value is None:
            continue
        if isinstance(value, bool) and expected is not bool:
            raise InvalidCursor()
        if not isinstance(value, expected):
            raise InvalidCursor()


_CURSOR_QUERY = Query(
    max_length=MAX_CURSOR_LENGTH, description="`next_cursor` of the previous page; omit for the first"
)
_LIMIT_QUERY = Query(ge=1, le=MAX_LIMIT, description="Items per page")


class PageParams:
    """A list endpoint's `?cursor=&limit=`. Take it as `page: PageDep` (built by the coroutine
    `page_params`); `Annotated[PageParams, Depends()]` also works, but FastAPI runs a class dependency in its
    thread pool, a hand-off per request."""

    def __init__(
        self,
        cursor: Annotated[str | None, _CURSOR_QUERY] = None,
        limit: Annotated[int, _LIMIT_QUERY] = DEFAULT_LIMIT,
    ) -> None:
        self.cursor = cursor
        self.limit = limit

    def after(self, *, types: Sequence[type] | None = None) -> tuple[Any, ...] | None:
        """The sort-key values to continue after, or None for the first page."""
        return None if self.cursor is None else decode_cursor(self.cursor, types=types)


async def page_params(
    cursor: Annotated[str | None, _CURSOR_QUERY] = None,
    limit: Annotated[int, _LIMIT_QUERY] = DEFAULT_LIMIT,
) -> PageParams:
    """`PageParams` as a coroutine dependency: the same query parameters and OpenAPI, no thread hand-off."""
    return PageParams(cursor=cursor, limit=limit)


PageDep = Annotated[PageParams, Depends(page_params)]
"""`page: PageDep` in a list endpoint's signature."""


class Page(BaseModel, Generic[T]):
    """One page of a list; `next_cursor` is null on the last page."""

    items: list[T]
    next_cursor: str | None = None

    @classmethod
    def from_overfetch(
        cls, rows: Sequence[T], *, limit: int, cursor_values: Callable[[T], tuple[Any, ...]]
    ) -> Self:
        """A page from a query that fetched `limit + 1` rows: the extra row only says more exist."""
        items = list(rows[:limit])
        has_more = len(rows) > limit
        return cls(items=items, next_cursor=encode_cursor(cursor_values(items[-1])) if has_more else None)
