"""The catalogue's repository in memory, for fast tests of the use cases.

It keeps the promises ``SqlCatalogue`` keeps (``tests/integration/test_repository_contract.py`` runs the same
scenarios on both): what it returns is a copy (a change counts once saved), saving an offer leaves the seats
taken and the ratings alone, duplicates answer False, orders are the SQL orders.
"""

from __future__ import annotations

import copy
import uuid
from dataclasses import dataclass, field, replace
from datetime import datetime

from catalogue.domain.listings import OfferListing, RatedOffer, ThemeListing
from catalogue.domain.offers import Offer
from catalogue.domain.organismes import Agrement, Organisme
from catalogue.domain.quality import Quality
from catalogue.domain.themes import FAMILIES, REPERTOIRE


@dataclass
class _Seat:
    offer_id: uuid.UUID
    session_id: uuid.UUID
    holds_seat: bool = False


@dataclass
class InMemoryCatalogue:
    """Implements every protocol of ``use_cases/ports.py`` except the search."""

    organismes: dict[str, Organisme] = field(default_factory=dict)
    agrements: dict[uuid.UUID, tuple[str, Agrement]] = field(default_factory=dict)
    offers: dict[uuid.UUID, Offer] = field(default_factory=dict)
    seats: dict[uuid.UUID, _Seat] = field(default_factory=dict)

    async def themes(self) -> list[ThemeListing]:
        family_label = {family.code: family.label for family in FAMILIES}
        return [ThemeListing(t.code, t.label, t.family, family_label[t.family]) for t in REPERTOIRE]

    async def add_organisme(self, organisme: Organisme) -> bool:
        if organisme.siret in self.organismes:
            return False
        self.organismes[organisme.siret] = replace(organisme, quality=Quality())
        return True

    async def organisme(self, siret: str, *, lock: bool = False) -> Organisme | None:
        return self.organismes.get(siret)

    async def agrements_of(self, siret: str) -> list[Agrement]:
        held = [a for owner, a in self.agrements.values() if owner == siret]
        return sorted(held, key=lambda a: (a.valid_from, a.id))

    async def add_agrement(self, siret: str, agrement: Agrement) -> bool:
        if siret not in self.organismes:
            raise LookupError(f"no organisme {siret}")  # the foreign key refuses it in SQL
        if any(owner == siret and a.reference == agrement.reference for owner, a in self.agrements.values()):
            return False
        self.agrements[agrement.id] = (siret, replace(agrement, withdrawn_on=None, withdrawal_reason=None))
        return True

    async def agrement(self, siret: str, agrement_id: uuid.UUID) -> Agrement | None:
        found = self.agrements.get(agrement_id)
        return found[1] if found is not None and found[0] == siret else None

    async def record_withdrawal(self, agrement: Agrement) -> None:
        owner, stored = self.agrements[agrement.id]
        self.agrements[agrement.id] = (
            owner,
            replace(stored, withdrawn_on=agrement.withdrawn_on, withdrawal_reason=agrement.withdrawal_reason),
        )

    async def offer(self, offer_id: uuid.UUID, *, lock: bool = False) -> Offer | None:
        stored = self.offers.get(offer_id)
        if stored is None:
            return None
        offer = copy.deepcopy(stored)
        offer.organisme_name = self.organismes[offer.siret].name
        return offer

    async def add_offer(self, offer: Offer) -> None:
        if offer.siret not in self.organismes or offer.id in self.offers:
            raise LookupError(f"offer {offer.id}: unknown organisme or duplicate id")
        stored = copy.deepcopy(offer)
        stored.events = []
        stored.quality = Quality()
        for session in stored.sessions:
            session.seats_taken = 0
        self.offers[offer.id] = stored

    async def save_offer(self, offer: Offer) -> None:
        before = self.offers[offer.id]
        taken = {s.id: s.seats_taken for s in before.sessions}
        stored = copy.deepcopy(offer)
        stored.events = []
        stored.quality = before.quality
        stored.created_at = before.created_at
        stored.sessions = sorted(
            (replace(s, seats_taken=taken.get(s.id, 0)) for s in stored.sessions),
            key=lambda s: (s.start_date, s.id),
        )
        self.offers[offer.id] = stored

    async def published_offers_of(self, siret: str) -> list[Offer]:
        ids = sorted(o.id for o in self.offers.values() if o.siret == siret and o.is_published)
        return [offer for offer_id in ids if (offer := await self.offer(offer_id)) is not None]

    async def offers_of(
        self, siret: str, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[OfferListing]:
        mine = sorted(
            (o for o in self.offers.values() if o.siret == siret), key=lambda o: (o.created_at, o.id)
        )
        if after is not None:
            mine = [o for o in mine if (o.created_at, o.id) > after]
        return [_listing(o) for o in mine[: limit + 1]]

    async def remember_dossier(
        self, dossier_id: uuid.UUID, offer_id: uuid.UUID, session_id: uuid.UUID
    ) -> None:
        self.seats.setdefault(dossier_id, _Seat(offer_id, session_id))

    async def set_seat_held(self, dossier_id: uuid.UUID, *, held: bool) -> uuid.UUID | None:
        seat = self.seats.get(dossier_id)
        if seat is None or seat.holds_seat is held:
            return None
        seat.holds_seat = held
        return seat.session_id

    async def change_seats_taken(self, session_id: uuid.UUID, delta: int) -> None:
        for offer in self.offers.values():
            for session in offer.sessions:
                if session.id == session_id:
                    session.seats_taken = max(session.seats_taken + delta, 0)

    async def add_rating(self, offer_id: uuid.UUID, rating: int) -> RatedOffer | None:
        offer = self.offers.get(offer_id)
        if offer is None:
            return None
        offer.quality = Quality(offer.quality.count + 1, offer.quality.rating_sum + rating)
        organisme = self.organismes[offer.siret]
        quality = Quality(organisme.quality.count + 1, organisme.quality.rating_sum + rating)
        self.organismes[offer.siret] = replace(organisme, quality=quality)
        return RatedOffer(offer_id, offer.siret, offer.quality, quality)


def _listing(offer: Offer) -> OfferListing:
    starts = [s.start_date for s in offer.sessions if s.is_open]
    return OfferListing(
        id=offer.id,
        status=offer.status,
        kind=offer.content.kind,
        title=offer.content.title,
        next_start_date=min(starts) if starts else None,
        created_at=offer.created_at,
    )
