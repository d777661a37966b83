"""Handlers of the events the ledger consumes: funding's hold and release requests, payout's captures.
Thin: the consumer gives the inbox and the transaction; each handler calls one use case."""

from __future__ import annotations

from collections.abc import Sequence

from dife_contracts import topics
from dife_contracts.events import DifeCaptureRequested, DifeHoldRequested, DifeReleaseRequested
from servicekit.clock import Clock
from servicekit.consumer import ConsumerSpec, EventHandlers, EventMeta
from servicekit.outbox import SessionOutbox
from sqlalchemy.ext.asyncio import AsyncSession

from rights_ledger.adapters.accounts import AccountRepository
from rights_ledger.use_cases.holds import capture_hold, place_holds, release_hold


def hold_handlers(clock: Clock) -> EventHandlers:
    handlers = EventHandlers()

    @handlers.on_batch(DifeHoldRequested)
    async def on_hold_requests(
        session: AsyncSession, events: Sequence[tuple[DifeHoldRequested, EventMeta]]
    ) -> None:
        """A run of requests is read and saved in one go (`place_holds`): a few statements for all."""
        await place_holds(
            AccountRepository(session), SessionOutbox(session), clock, [event for event, _ in events]
        )

    @handlers.on(DifeReleaseRequested)
    async def on_release_requested(
        session: AsyncSession, event: DifeReleaseRequested, meta: EventMeta
    ) -> None:
        await release_hold(AccountRepository(session), clock, event)

    @handlers.on(DifeCaptureRequested)
    async def on_capture_requested(
        session: AsyncSession, event: DifeCaptureRequested, meta: EventMeta
    ) -> None:
        await capture_hold(AccountRepository(session), clock, event)

    return handlers


def consumer_specs(clock: Clock) -> list[ConsumerSpec]:
    """One consumer group reads both topics: a dossier's hold and capture then share the inbox."""
    return [ConsumerSpec(name="holds", topics=[topics.FUNDING, topics.PAYOUT], handlers=hold_handlers(clock))]
