"""The outbox and scheduler adapters use cases receive (servicekit's, in the caller's transaction)."""

from __future__ import annotations

from collections.abc import Sequence

from dife_contracts import Event
from servicekit.outbox import enqueue
from sqlalchemy.ext.asyncio import AsyncSession

EVENT_SOURCE = "/dife/dossier"


class SessionOutbox:
    """Writes events to the outbox in the session's transaction, in order (one dossier, one partition)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add_many(self, events: Sequence[Event]) -> None:
        for event in events:
            await enqueue(self.session, event, source=EVENT_SOURCE)
