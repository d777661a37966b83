"""The outbox as use cases see it (``add``/``add_many``), in the session's transaction."""

from __future__ import annotations

from collections.abc import Iterable

from dife_contracts import Event
from servicekit.outbox import enqueue, enqueue_many
from sqlalchemy.ext.asyncio import AsyncSession

SOURCE = "/dife/rights-ledger"


class SessionOutbox:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, event: Event) -> None:
        await enqueue(self._session, event, source=SOURCE)

    async def add_many(self, events: Iterable[Event]) -> None:
        await enqueue_many(self._session, events, source=SOURCE)
