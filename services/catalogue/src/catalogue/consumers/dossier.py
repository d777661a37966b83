"""Dossier events the catalogue follows: seats taken and freed per session, evaluations (R-DOS-6).

Each handler runs in the inbox transaction (servicekit): a redelivered event is a no-op. The handlers only
turn an event into one use case call.
"""

from __future__ import annotations

import structlog
from dife_contracts import topics
from dife_contracts.events import (
    DossierAccepted,
    DossierCancelled,
    DossierEvaluated,
    DossierExpired,
    DossierRefused,
    DossierSubmitted,
)
from servicekit.consumer import ConsumerSpec, EventHandlers, EventMeta
from servicekit.outbox import SessionOutbox
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.adapters.repository import SqlCatalogue
from catalogue.use_cases import dossiers

log = structlog.get_logger(__name__)

handlers = EventHandlers()


@handlers.on(DossierSubmitted)
async def remember_session(session: AsyncSession, event: DossierSubmitted, meta: EventMeta) -> None:
    await dossiers.remember_dossier(SqlCatalogue(session), event.dossier_id, event.offer_id, event.session_id)


@handlers.on(DossierAccepted)
async def take_seat(session: AsyncSession, event: DossierAccepted, meta: EventMeta) -> None:
    if not await dossiers.take_seat(SqlCatalogue(session), event.dossier_id):
        log.info("seat_unchanged", dossier_id=str(event.dossier_id), reason="unknown dossier or seat held")


@handlers.on(DossierCancelled, DossierRefused, DossierExpired)
async def free_seat(
    session: AsyncSession, event: DossierCancelled | DossierRefused | DossierExpired, meta: EventMeta
) -> None:
    await dossiers.free_seat(SqlCatalogue(session), event.dossier_id)


@handlers.on(DossierEvaluated)
async def add_evaluation(session: AsyncSession, event: DossierEvaluated, meta: EventMeta) -> None:
    await dossiers.record_evaluation(
        SqlCatalogue(session), SessionOutbox(session), event.offer_id, event.rating
    )


def consumer_spec() -> ConsumerSpec:
    return ConsumerSpec(name="dossier-events", topics=[topics.DOSSIER], handlers=handlers)
