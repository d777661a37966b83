"""What the catalogue keeps of dossiers: seats taken per session, and evaluations (R-DOS-6).

The seat bookkeeping is idempotent on its own (a dossier holds its seat or not: flipping twice is a no-op),
beside the inbox that makes a redelivered event a no-op. The dossier service enforces capacity from its own
enrolments; the catalogue only shows seats left.
"""

from __future__ import annotations

import uuid

from dife_contracts.events import OfferQualityUpdated
from servicekit.rules import NotFound

from catalogue.use_cases.ports import Outbox, Seats


async def remember_dossier(
    repo: Seats, dossier_id: uuid.UUID, offer_id: uuid.UUID, session_id: uuid.UUID
) -> None:
    """Later dossier events name only the dossier: remember which session it asked for."""
    await repo.remember_dossier(dossier_id, offer_id, session_id)


async def take_seat(repo: Seats, dossier_id: uuid.UUID) -> bool:
    """An accepted dossier takes a seat of its session; False when unknown or already seated."""
    session_id = await repo.set_seat_held(dossier_id, held=True)
    if session_id is None:
        return False
    await repo.change_seats_taken(session_id, +1)
    return True


async def free_seat(repo: Seats, dossier_id: uuid.UUID) -> bool:
    """A cancelled, refused or expired dossier frees its seat if it held one."""
    session_id = await repo.set_seat_held(dossier_id, held=False)
    if session_id is None:
        return False
    await repo.change_seats_taken(session_id, -1)
    return True


async def record_evaluation(repo: Seats, outbox: Outbox, offer_id: uuid.UUID, rating: int) -> None:
    """R-DOS-6: the evaluation updates the average of the offer and of its organisme, then tells everyone."""
    rated = await repo.add_rating(offer_id, rating)
    if rated is None:
        raise NotFound(f"evaluation of offer {offer_id}, unknown to the catalogue")
    offer_average, organisme_average = rated.offer_quality.average, rated.organisme_quality.average
    assert offer_average is not None and organisme_average is not None
    await outbox.add(
        OfferQualityUpdated(
            offer_id=offer_id,
            siret=rated.siret,
            offer_rating_count=rated.offer_quality.count,
            offer_rating_average=offer_average,
            organisme_rating_count=rated.organisme_quality.count,
            organisme_rating_average=organisme_average,
        )
    )
