"""The outbox and timers of one transaction (until servicekit's SessionOutbox and SessionScheduler)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID, uuid4

from dife_contracts.event import Event
from servicekit.outbox import enqueue, enqueue_many
from sqlalchemy.ext.asyncio import AsyncSession

SOURCE = "/dife/funding"


class SessionOutbox:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, event: Event) -> None:
        await enqueue(self._session, event, source=SOURCE)

    async def add_many(self, events: Iterable[Event]) -> None:
        for event in events:
            await enqueue(self._session, event, source=SOURCE)


class UnscheduledTimers:
    """Placeholder until servicekit.jobs lands: timers are not kept."""

    async def schedule(
        self,
        kind: str,
        *,
        run_after: datetime,
        params: Mapping[str, Any] | None = None,
        key: str | None = None,
    ) -> UUID:
        return uuid4()

    async def cancel(self, key: str) -> int:
        return 0


__all__ = ["SessionOutbox", "UnscheduledTimers", "enqueue_many"]
