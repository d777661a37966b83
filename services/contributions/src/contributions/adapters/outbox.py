"""The use cases' `Outbox` port on servicekit's transactional outbox."""

from __future__ import annotations

from collections.abc import Sequence

from dife_contracts import Event
from servicekit.outbox import enqueue_many
from sqlalchemy.ext.asyncio import AsyncSession

EVENT_SOURCE = "/dife/contributions"


class SessionOutbox:
    """Events written in the session's transaction (one COPY per batch: a statement may settle thousands)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, events: Sequence[Event]) -> None:
        if events:
            await enqueue_many(self.session, events, source=EVENT_SOURCE)
