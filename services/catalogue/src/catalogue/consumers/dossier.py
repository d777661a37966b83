"""What the catalogue keeps of dossiers: seats taken per session, and evaluations (R-DOS-6).

Each handler runs in the inbox transaction (servicekit): a redelivered event is a no-op, and the seat
bookkeeping is idempotent on its own as well (a dossier holds its seat or not: flipping twice is a no-op).
The dossier service enforces capacity from its own enrolments; the catalogue only shows seats left.
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
    OfferQualityUpdated,
)
from servicekit.consumer import ConsumerSpec, EventHandlers, EventMeta, PermanentEventError
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.adapters import repository
from catalogue.api.common import emit

log = structlog.get_logger(__name__)

handlers = EventHandlers()


@handlers.on(DossierSubmitted)
async def remember_session(session: AsyncSession, event: DossierSubmitted, meta: EventMeta) -> None:
    """Later dossier events name only the dossier: remember which session it asked for."""
    await repository.remember_dossier(session, event.dossier_id, event.offer_id, event.session_id)


@handlers.on(DossierAccepted)
async def take_seat(session: AsyncSession, event: DossierAccepted, meta: EventMeta) -> None:
    session_id = await repository.set_seat_held(session, event.dossier_id, held=True)
    if session_id is not None:
        await repository.change_seats_taken(session, session_id, +1)
    else:
        log.info("seat_unchanged", dossier_id=str(event.dossier_id), reason="unknown dossier or seat held")


@handlers.on(DossierCancelled, DossierRefused, DossierExpired)
async def free_seat(
    session: AsyncSession, event: DossierCancelled | DossierRefused | DossierExpired, meta: EventMeta
) -> None:
    session_id = await repository.set_seat_held(session, event.dossier_id, held=False)
    if session_id is not None:
        await repository.change_seats_taken(session, session_id, -1)


@handlers.on(DossierEvaluated)
async def add_evaluation(session: AsyncSession, event: DossierEvaluated, meta: EventMeta) -> None:
    """R-DOS-6: the evaluation updates the average of the offer and of its organisme, then tells everyone."""
    scores = await repository.add_rating(session, event.offer_id, event.rating)
    if scores is None:
        raise PermanentEventError(f"evaluation of offer {event.offer_id}, unknown to the catalogue")
    siret, offer_quality, organisme_quality = scores
    assert offer_quality.average is not None and organisme_quality.average is not None
    await emit(
        session,
        OfferQualityUpdated(
            offer_id=event.offer_id,
            siret=siret,
            offer_rating_count=offer_quality.count,
            offer_rating_average=offer_quality.average,
            organisme_rating_count=organisme_quality.count,
            organisme_rating_average=organisme_quality.average,
        ),
    )


def consumer_spec() -> ConsumerSpec:
    return ConsumerSpec(name="dossier-events", topics=[topics.DOSSIER], handlers=handlers)
