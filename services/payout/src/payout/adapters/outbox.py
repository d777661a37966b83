"""The use cases' `Outbox` on the caller's session: events join the transaction of the state change."""

from __future__ import annotations

from collections.abc import Iterable

from dife_contracts import Event
from servicekit.outbox import enqueue
from sqlalchemy.ext.asyncio import AsyncSession

SOURCE = "/dife/payout"


class SessionOutbox:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, event: Event) -> None:
        await enqueue(self.session, event, source=SOURCE)

    async def add_many(self, events: Iterable[Event]) -> None:
        for event in events:
            await self.add(event)
