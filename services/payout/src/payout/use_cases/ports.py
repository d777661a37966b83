"""The small seams use cases take, so they run on fakes in unit tests and on the real session in the app."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

from dife_contracts import Event


class Outbox(Protocol):
    """Where a use case writes the events its decision implies (the caller's transaction)."""

    async def add(self, event: Event) -> None: ...

    async def add_many(self, events: Iterable[Event]) -> None: ...
