"""Handlers of the events the ledger consumes: funding's hold and release requests, payout's captures."""

from __future__ import annotations

from dife_contracts import topics
from dife_contracts.events import DifeCaptureRequested, DifeHoldRequested, DifeReleaseRequested
from servicekit.consumer import ConsumerSpec, EventHandlers, EventMeta
from sqlalchemy.ext.asyncio import AsyncSession

from rights_ledger.use_cases.holds import capture_hold, place_hold, release_hold

handlers = EventHandlers()


@handlers.on(DifeHoldRequested)
async def on_hold_requested(session: AsyncSession, event: DifeHoldRequested, meta: EventMeta) -> None:
    await place_hold(session, event)


@handlers.on(DifeReleaseRequested)
async def on_release_requested(session: AsyncSession, event: DifeReleaseRequested, meta: EventMeta) -> None:
    await release_hold(session, event)


@handlers.on(DifeCaptureRequested)
async def on_capture_requested(session: AsyncSession, event: DifeCaptureRequested, meta: EventMeta) -> None:
    await capture_hold(session, event)


def consumer_specs() -> list[ConsumerSpec]:
    """One consumer group reads both topics: a dossier's hold and capture then share the inbox."""
    return [ConsumerSpec(name="holds", topics=[topics.FUNDING, topics.PAYOUT], handlers=handlers)]
