"""Every query of the catalogue except the public search (``search.py``), behind one repository that speaks
in domain objects. Nothing here commits: the request or the event handler owns the transaction."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from dife_contracts.enums import Modality, TrainingPurpose
from sqlalchemy import Row, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.adapters.tables import agrements, dossier_seats, offers, organismes, sessions, themes
from catalogue.domain.listings import OfferListing, RatedOffer, ThemeListing
from catalogue.domain.offers import (
    Location,
    Offer,
    OfferContent,
    OfferSession,
    OfferStatus,
    SessionStatus,
    Subcontracting,
)
from catalogue.domain.organismes import Address, Agrement, Organisme
from catalogue.domain.quality import Quality

_LOCATION_COLUMNS = ("commune_insee", "postal_code", "city", "department", "region", "lat", "lon")


def _agrement(row: Row[Any]) -> Agrement:
    return Agrement(
        id=row.id,
        reference=row.reference,
        decision_date=row.decision_date,
        valid_from=row.valid_from,
        valid_until=row.valid_until,
        withdrawn_on=row.withdrawn_on,
        withdrawal_reason=row.withdrawal_reason,
    )


def _organisme(row: Row[Any]) -> Organisme:
    return Organisme(
        siret=row.siret,
        name=row.name,
        nda=row.nda,
        address=Address(street=row.street, postal_code=row.postal_code, city=row.city),
        quality=Quality(row.rating_count, row.rating_sum),
    )


def _content(row: Row[Any]) -> OfferContent:
    location = None
    if row.department is not None:
        location = Location(**{name: getattr(row, name) for name in _LOCATION_COLUMNS})
    subcontracting = None
    if row.subcontractor_siret is not None:
        subcontracting = Subcontracting(row.subcontractor_siret, row.subcontracting_share_percent)
    return OfferContent(
        kind=TrainingPurpose(row.kind),
        title=row.title,
        summary=row.summary,
        objectives=row.objectives,
        theme_code=row.theme_code,
        certification_code=row.certification_code,
        hours=row.hours,
        price_ht_cents=row.price_ht_cents,
        vat_rate_bp=row.vat_rate_bp,
        modality=Modality(row.modality),
        location=location,
        subcontracting=subcontracting,
    )


def _content_columns(content: OfferContent) -> dict[str, Any]:
    location = content.location
    sub = content.subcontracting
    return {
        "kind": content.kind.value,
        "title": content.title,
        "summary": content.summary,
        "objectives": content.objectives,
        "theme_code": content.theme_code,
        "theme_label": content.theme_label,
        "certification_code": content.certification_code,
        "hours": content.hours,
        "price_ht_cents": content.price_ht_cents,
        "vat_rate_bp": content.vat_rate_bp,
        "price_ttc_cents": content.price_ttc_cents,
        "modality": content.modality.value,
        **{name: getattr(location, name) if location else None for name in _LOCATION_COLUMNS},
        "subcontractor_siret": sub.siret if sub else None,
        "subcontracting_share_percent": sub.share_percent if sub else None,
    }


def _session(row: Row[Any]) -> OfferSession:
    return OfferSession(
        id=row.id,
        start_date=row.start_date,
        end_date=row.end_date,
        capacity=row.capacity,
        status=SessionStatus(row.status),
        seats_taken=row.seats_taken,
    )


class SqlCatalogue:
    """The catalogue's repository on PostgreSQL, in the caller's transaction (see ``use_cases/ports.py``)."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # Répertoire ---------------------------------------------------------------------------------------

    async def themes(self) -> list[ThemeListing]:
        rows = await self._session.execute(select(themes).order_by(themes.c.position))
        return [ThemeListing(row.code, row.label, row.family, row.family_label) for row in rows]

    # Organismes and agréments -------------------------------------------------------------------------

    async def add_organisme(self, organisme: Organisme) -> bool:
        """False when an organisme with this SIRET exists already (unique key, no check-then-insert)."""
        address = organisme.address
        inserted = await self._session.scalar(
            pg_insert(organismes)
            .values(
                siret=organisme.siret,
                name=organisme.name,
                nda=organisme.nda,
                street=address.street,
                postal_code=address.postal_code,
                city=address.city,
            )
            .on_conflict_do_nothing()
            .returning(organismes.c.siret)
        )
        return inserted is not None

    async def organisme(self, siret: str, *, lock: bool = False) -> Organisme | None:
        statement = select(organismes).where(organismes.c.siret == siret)
        if lock:
            statement = statement.with_for_update()
        row = (await self._session.execute(statement)).one_or_none()
        return None if row is None else _organisme(row)

    async def agrements_of(self, siret: str) -> list[Agrement]:
        rows = await self._session.execute(
            select(agrements)
            .where(agrements.c.siret == siret)
            .order_by(agrements.c.valid_from, agrements.c.id)
        )
        return [_agrement(row) for row in rows]

    async def add_agrement(self, siret: str, agrement: Agrement) -> bool:
        """False when this organisme already has an agrément with the same reference."""
        inserted = await self._session.scalar(
            pg_insert(agrements)
            .values(
                id=agrement.id,
                siret=siret,
                reference=agrement.reference,
                decision_date=agrement.decision_date,
                valid_from=agrement.valid_from,
                valid_until=agrement.valid_until,
            )
            .on_conflict_do_nothing()
            .returning(agrements.c.id)
        )
        return inserted is not None

    async def agrement(self, siret: str, agrement_id: uuid.UUID) -> Agrement | None:
        """The agrément, locked until the transaction ends (a withdrawal is recorded once)."""
        row = (
            await self._session.execute(
                select(agrements)
                .where(agrements.c.siret == siret, agrements.c.id == agrement_id)
                .with_for_update()
            )
        ).one_or_none()
        return None if row is None else _agrement(row)

    async def record_withdrawal(self, agrement: Agrement) -> None:
        await self._session.execute(
            update(agrements)
            .where(agrements.c.id == agrement.id)
            .values(withdrawn_on=agrement.withdrawn_on, withdrawal_reason=agrement.withdrawal_reason)
        )

    # Offers and sessions ------------------------------------------------------------------------------

    async def offer(self, offer_id: uuid.UUID, *, lock: bool = False) -> Offer | None:
        """The offer with its sessions; ``lock`` holds the offer row until the transaction ends."""
        statement = (
            select(offers, organismes.c.name.label("organisme_name"))
            .join(organismes, organismes.c.siret == offers.c.siret)
            .where(offers.c.id == offer_id)
        )
        if lock:
            statement = statement.with_for_update(of=offers)
        row = (await self._session.execute(statement)).one_or_none()
        if row is None:
            return None
        session_rows = await self._session.execute(
            select(sessions)
            .where(sessions.c.offer_id == offer_id)
            .order_by(sessions.c.start_date, sessions.c.id)
        )
        return Offer(
            id=row.id,
            siret=row.siret,
            organisme_name=row.organisme_name,
            content=_content(row),
            created_at=row.created_at,
            status=OfferStatus(row.status),
            sessions=[_session(s) for s in session_rows],
            quality=Quality(row.rating_count, row.rating_sum),
            published_at=row.published_at,
            withdrawn_at=row.withdrawn_at,
        )

    async def add_offer(self, offer: Offer) -> None:
        await self._session.execute(
            insert(offers).values(
                id=offer.id,
                siret=offer.siret,
                status=offer.status.value,
                created_at=offer.created_at,
                published_at=offer.published_at,
                withdrawn_at=offer.withdrawn_at,
                **_content_columns(offer.content),
            )
        )
        await self._save_sessions(offer)

    async def save_offer(self, offer: Offer) -> None:
        """Write the offer's content, status and sessions (new ones inserted, the others' status updated),
        and keep its search columns (first start, open start days) in step with its sessions."""
        await self._session.execute(
            update(offers)
            .where(offers.c.id == offer.id)
            .values(
                status=offer.status.value,
                published_at=offer.published_at,
                withdrawn_at=offer.withdrawn_at,
                updated_at=func.now(),
                **_content_columns(offer.content),
            )
        )
        await self._save_sessions(offer)

    async def _save_sessions(self, offer: Offer) -> None:
        if not offer.sessions:
            return
        statement = pg_insert(sessions).values(
            [
                {
                    "id": s.id,
                    "offer_id": offer.id,
                    "offer_kind": offer.content.kind.value,
                    "start_date": s.start_date,
                    "end_date": s.end_date,
                    "capacity": s.capacity,
                    "status": s.status.value,
                }
                for s in offer.sessions
            ]
        )
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[sessions.c.id], set_={"status": statement.excluded.status}
            )
        )
        await self._session.execute(
            text(
                """
                UPDATE offers SET
                    next_start_date = open.first_start,
                    open_session_starts = coalesce(open.days, '{}'::datemultirange)
                FROM (SELECT min(start_date) AS first_start,
                             range_agg(daterange(start_date, start_date, '[]')) AS days
                      FROM sessions WHERE offer_id = :offer_id AND status = 'open') AS open
                WHERE offers.id = :offer_id
                """
            ),
            {"offer_id": offer.id},
        )

    async def published_offers_of(self, siret: str) -> list[Offer]:
        """The organisme's published offers, locked, in id order (one order for every writer: no deadlock)."""
        ids = await self._session.scalars(
            select(offers.c.id)
            .where(offers.c.siret == siret, offers.c.status == OfferStatus.PUBLISHED.value)
            .order_by(offers.c.id)
            .with_for_update()
        )
        found = [await self.offer(offer_id) for offer_id in ids.all()]
        return [offer for offer in found if offer is not None]

    async def offers_of(
        self, siret: str, after: tuple[datetime, uuid.UUID] | None, limit: int
    ) -> list[OfferListing]:
        """An organisme's offers, every status, oldest first: ``limit + 1`` after ``(created_at, id)``."""
        statement = select(
            offers.c.id,
            offers.c.status,
            offers.c.kind,
            offers.c.title,
            offers.c.next_start_date,
            offers.c.created_at,
        ).where(offers.c.siret == siret)
        if after is not None:
            statement = statement.where(tuple_(offers.c.created_at, offers.c.id) > tuple_(after[0], after[1]))
        rows = await self._session.execute(
            statement.order_by(offers.c.created_at, offers.c.id).limit(limit + 1)
        )
        return [
            OfferListing(
                id=row.id,
                status=OfferStatus(row.status),
                kind=TrainingPurpose(row.kind),
                title=row.title,
                next_start_date=row.next_start_date,
                created_at=row.created_at,
            )
            for row in rows
        ]

    # Seats and evaluations (from the dossier service's events) -----------------------------------------

    async def remember_dossier(
        self, dossier_id: uuid.UUID, offer_id: uuid.UUID, session_id: uuid.UUID
    ) -> None:
        await self._session.execute(
            pg_insert(dossier_seats)
            .values(dossier_id=dossier_id, offer_id=offer_id, session_id=session_id)
            .on_conflict_do_nothing()
        )

    async def set_seat_held(self, dossier_id: uuid.UUID, *, held: bool) -> uuid.UUID | None:
        """Flip whether a dossier holds its seat; the session whose count changes, or None if nothing did."""
        return await self._session.scalar(
            update(dossier_seats)
            .where(dossier_seats.c.dossier_id == dossier_id, dossier_seats.c.holds_seat.is_not(held))
            .values(holds_seat=held)
            .returning(dossier_seats.c.session_id)
        )

    async def change_seats_taken(self, session_id: uuid.UUID, delta: int) -> None:
        await self._session.execute(
            update(sessions)
            .where(sessions.c.id == session_id)
            .values(seats_taken=func.greatest(sessions.c.seats_taken + delta, 0))
        )

    async def add_rating(self, offer_id: uuid.UUID, rating: int) -> RatedOffer | None:
        """Add one evaluation to the offer and to its organisme (R-DOS-6): both running scores after it."""
        offer = (
            await self._session.execute(
                update(offers)
                .where(offers.c.id == offer_id)
                .values(rating_count=offers.c.rating_count + 1, rating_sum=offers.c.rating_sum + rating)
                .returning(offers.c.siret, offers.c.rating_count, offers.c.rating_sum)
            )
        ).one_or_none()
        if offer is None:
            return None
        organisme = (
            await self._session.execute(
                update(organismes)
                .where(organismes.c.siret == offer.siret)
                .values(
                    rating_count=organismes.c.rating_count + 1, rating_sum=organismes.c.rating_sum + rating
                )
                .returning(organismes.c.rating_count, organismes.c.rating_sum)
            )
        ).one()
        return RatedOffer(
            offer_id=offer_id,
            siret=offer.siret,
            offer_quality=Quality(offer.rating_count, offer.rating_sum),
            organisme_quality=Quality(organisme.rating_count, organisme.rating_sum),
        )
