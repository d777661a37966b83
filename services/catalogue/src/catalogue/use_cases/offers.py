"""Offers and sessions, managed by their organisme (or an agent): terms R-OFR-1…5, agrément R-OF-1.

Each use case loads the offer, lets the aggregate decide, saves it and hands the events it recorded to the
outbox, all in the caller's transaction.
"""

from __future__ import annotations

import uuid
from datetime import date, datetime

from servicekit.rules import NotFound

from catalogue.domain.listings import OfferListing
from catalogue.domain.offers import (
    ContentChanges,
    Offer,
    OfferContent,
    OfferSession,
    OfferStatus,
    Subcontracting,
    Subcontractor,
    check_terms,
    revised,
)
from catalogue.domain.organismes import Agrement
from catalogue.use_cases.ports import Guard, Offers, OffersAndOrganismes, Organismes, Outbox


async def _subcontractor(repo: Organismes, subcontracting: Subcontracting | None) -> Subcontractor | None:
    """What R-OFR-5 needs to know of a subcontractor: its agréments, None when it is not a registered OF."""
    if subcontracting is None:
        return None
    siret = subcontracting.siret
    known = await repo.organisme(siret) is not None
    return Subcontractor(siret, await repo.agrements_of(siret) if known else None)


async def _owned(repo: Offers, offer_id: uuid.UUID, guard: Guard) -> Offer:
    offer = await repo.offer(offer_id, lock=True)
    if offer is None:
        raise NotFound(f"no offer {offer_id}")
    guard(offer.siret)
    return offer


async def _save(repo: Offers, outbox: Outbox, offer: Offer) -> Offer:
    await repo.save_offer(offer)
    await outbox.add_many(offer.events)
    offer.events.clear()
    return offer


async def create_offer(
    repo: OffersAndOrganismes, *, siret: str, content: OfferContent, today: date, now: datetime
) -> Offer:
    """A draft offer of an organisme; every rule its terms break is listed at once (R-OFR-1…5)."""
    organisme = await repo.organisme(siret)
    if organisme is None:
        raise NotFound(f"no organisme with SIRET {siret}")
    subcontractor = await _subcontractor(repo, content.subcontracting)
    check_terms(content.terms, seller_siret=siret, subcontractor=subcontractor, today=today).raise_if_any()
    offer = Offer(
        id=uuid.uuid4(), siret=siret, organisme_name=organisme.name, content=content, created_at=now
    )
    await repo.add_offer(offer)
    return offer


async def read_offer(repo: Offers, offer_id: uuid.UUID, *, draft_reader: Guard | None) -> Offer:
    """Public for a published or withdrawn offer; a draft only to whom ``draft_reader`` lets through
    (an anonymous caller, ``None``, is told it does not exist)."""
    offer = await repo.offer(offer_id)
    if offer is None or (offer.status is OfferStatus.DRAFT and draft_reader is None):
        raise NotFound(f"no offer {offer_id}")
    if offer.status is OfferStatus.DRAFT and draft_reader is not None:
        draft_reader(offer.siret)
    return offer


async def revise_offer(
    repo: OffersAndOrganismes,
    outbox: Outbox,
    offer_id: uuid.UUID,
    changes: ContentChanges,
    *,
    guard: Guard,
    today: date,
) -> Offer:
    """Change some terms; the whole offer is checked again, and a published offer is published again."""
    offer = await _owned(repo, offer_id, guard)
    content = revised(offer.content, changes)
    offer.revise(
        content,
        agrements=await repo.agrements_of(offer.siret),
        subcontractor=await _subcontractor(repo, content.subcontracting),
        today=today,
    )
    return await _save(repo, outbox, offer)


async def add_session(
    repo: OffersAndOrganismes,
    outbox: Outbox,
    offer_id: uuid.UUID,
    *,
    start_date: date,
    end_date: date,
    capacity: int,
    guard: Guard,
) -> OfferSession:
    """A dated session: at most 15 seats on a mandate training (R-OFR-4), inside an agrément (R-OF-1)."""
    offer = await _owned(repo, offer_id, guard)
    session = OfferSession(id=uuid.uuid4(), start_date=start_date, end_date=end_date, capacity=capacity)
    offer.add_session(
        session,
        agrements=await repo.agrements_of(offer.siret),
        subcontractor=await _subcontractor(repo, offer.content.subcontracting),
    )
    await _save(repo, outbox, offer)
    return session


async def publish_offer(
    repo: OffersAndOrganismes, outbox: Outbox, offer_id: uuid.UUID, *, guard: Guard, now: datetime
) -> Offer:
    """A draft with at least one open session goes public; the agrément must cover every session (R-OF-1)."""
    offer = await _owned(repo, offer_id, guard)
    offer.publish(
        now=now,
        agrements=await repo.agrements_of(offer.siret),
        subcontractor=await _subcontractor(repo, offer.content.subcontracting),
    )
    return await _save(repo, outbox, offer)


async def withdraw_offer(
    repo: Offers, outbox: Outbox, offer_id: uuid.UUID, *, reason: str, guard: Guard, now: datetime
) -> Offer:
    """Off the catalogue for good; no new dossier may be opened on it."""
    offer = await _owned(repo, offer_id, guard)
    offer.withdraw(now=now, reason=reason)
    return await _save(repo, outbox, offer)


async def cancel_session(
    repo: Offers, outbox: Outbox, offer_id: uuid.UUID, session_id: uuid.UUID, *, reason: str, guard: Guard
) -> OfferSession:
    """The session will not take place; the dossier service cancels its dossiers on ``session_cancelled``."""
    offer = await _owned(repo, offer_id, guard)
    cancelled = offer.cancel_session(session_id, reason=reason)
    await _save(repo, outbox, offer)
    return cancelled


async def stop_selling_uncovered_sessions(
    repo: OffersAndOrganismes, outbox: Outbox, siret: str, withdrawn: Agrement, *, now: datetime
) -> None:
    """R-OF-1 once an agrément is withdrawn: the open mandate sessions no agrément covers any more are
    cancelled (``session_cancelled``), and an offer left without any open session is withdrawn."""
    agrements = await repo.agrements_of(siret)
    reason = f"agrément {withdrawn.reference} withdrawn from {withdrawn.withdrawn_on} (R-OF-1)"
    for offer in await repo.published_offers_of(siret):
        offer.stop_uncovered_sessions(agrements, reason=reason, now=now)
        if offer.events:
            await _save(repo, outbox, offer)


async def offers_of(
    repo: Offers, siret: str, *, after: tuple[datetime, uuid.UUID] | None, limit: int, guard: Guard
) -> list[OfferListing]:
    """An organisme's own offers, drafts and withdrawn ones included."""
    guard(siret)
    return await repo.offers_of(siret, after, limit)
