"""The outbox of the use cases on the caller's transaction (until servicekit's ``SessionOutbox`` lands)."""

from __future__ import annotations

from collections.abc import Iterable

from dife_contracts import Event
from servicekit.outbox import enqueue
from sqlalchemy.ext.asyncio import AsyncSession

EVENT_SOURCE = "/dife/catalogue"


class SessionOutbox:
    """Outbox rows written in the session's transaction: they commit with the change or not at all."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, event: Event) -> None:
        await enqueue(self._session, event, source=EVENT_SOURCE)

    async def add_many(self, events: Iterable[Event]) -> None:
        for event in events:
            await self.add(event)
