"""The small protocols the use cases take: the repository's parts, the caller's guard (and servicekit's
``Outbox``, re-exported here so that every port is named in one place).

``adapters/repository.SqlCatalogue`` implements every repository part on PostgreSQL and
``adapters/memory.InMemoryCatalogue`` in memory; ``tests/integration/test_repository_contract.py`` runs the
same scenarios on both, so the fake cannot drift from the real thing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from servicekit.outbox import Outbox

from catalogue.domain.listings import OfferListing, RatedOffer, ThemeListing
from catalogue.domain.offers import Offer
from catalogue.domain.organismes import Agrement, Organisme
from catalogue.domain.search import Position, SearchFilters, SearchResult, SortOrder

__all__ = [
    "CatalogueRepository",
    "Guard",
    "OfferIndex",
    "Offers",
    "OffersAndOrganismes",
    "Organismes",
    "Outbox",
    "Repertoire",
    "Seats",
]

Guard = Callable[[str], None]
"""Raises when the caller may not act for the organisme with this SIRET (the API builds it from the role
that grants access to the endpoint)."""


class Repertoire(Protocol):
    async def themes(self) -> list[ThemeListing]: ...


class Organismes(Protocol):
    async def add_organisme(self, organisme: Organisme) -> bool:
        """False when the SIRET is already registered."""
        ...

    async def organisme(self, siret: str, *, lock: bool = False) -> Organisme | None: ...

    async def agrements_of(self, siret: str) -> list[Agrement]:
        """Every agrément of the organisme, by ``valid_from`` then id."""
        ...

    async def add_agrement(self, siret: str, agrement: Agrement) -> bool:
        """False when the organisme already has an agrément with this reference."""
        ...

    async def agrement(self, siret: str, agrement_id: uuid.UUID) -> Agrement | None: ...

    async def record_withdrawal(self, agrement: Agrement) -> None: ...


class Offers(Protocol):
    async def offer(self, offer_id: uuid.UUID, *, lock: bool = False) -> Offer | None: ...

    async def add_offer(self, offer: Offer) -> None: ...

    async def save_offer(self, offer: Offer) -> None: ...

    async def published_offers_of(self, siret: str) -> list[Offer]:
        """Published offers of the organisme, by id."""
        ...

    async def offers_of(
        self, siret: str, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[OfferListing]:
        """``limit + 1`` offers of every status after ``(created_at, id)``, in that order."""
        ...


class Seats(Protocol):
    async def remember_dossier(
        self, dossier_id: uuid.UUID, offer_id: uuid.UUID, session_id: uuid.UUID
    ) -> None: ...

    async def set_seat_held(self, dossier_id: uuid.UUID, *, held: bool) -> uuid.UUID | None:
        """The session whose seat count must change, or None when the dossier is unknown or already so."""
        ...

    async def change_seats_taken(self, session_id: uuid.UUID, delta: int) -> None: ...

    async def add_rating(self, offer_id: uuid.UUID, rating: int) -> RatedOffer | None:
        """None when the offer is unknown."""
        ...


class OffersAndOrganismes(Organismes, Offers, Protocol):
    """What the offer use cases read: offers, and the agréments of their organisme and subcontractor."""


class CatalogueRepository(Repertoire, Organismes, Offers, Seats, Protocol):
    """Every part of the repository."""


class OfferIndex(Protocol):
    async def search(
        self, filters: SearchFilters, *, sort: SortOrder, after: Position | None, limit: int
    ) -> SearchResult: ...
