"""Every query of the catalogue except the public search (``search.py``). Nothing here commits: the request
or the event handler owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, func, insert, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.adapters.tables import agrements, dossier_seats, offers, organismes, sessions, themes
from catalogue.domain.organismes import Agrement
from catalogue.domain.quality import Quality


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


async def list_themes(session: AsyncSession) -> Sequence[Row[Any]]:
    return (await session.execute(select(themes).order_by(themes.c.position))).all()


async def theme_label(session: AsyncSession, code: str) -> str | None:
    return await session.scalar(select(themes.c.label).where(themes.c.code == code))


async def insert_organisme(session: AsyncSession, values: dict[str, Any]) -> bool:
    """False when an organisme with this SIRET exists already (unique key, no check-then-insert)."""
    inserted = await session.scalar(
        pg_insert(organismes).values(**values).on_conflict_do_nothing().returning(organismes.c.siret)
    )
    return inserted is not None


async def get_organisme(session: AsyncSession, siret: str, *, lock: bool = False) -> Row[Any] | None:
    statement = select(organismes).where(organismes.c.siret == siret)
    if lock:
        statement = statement.with_for_update()
    return (await session.execute(statement)).one_or_none()


async def agrements_of(session: AsyncSession, siret: str) -> list[Agrement]:
    rows = await session.execute(
        select(agrements).where(agrements.c.siret == siret).order_by(agrements.c.valid_from, agrements.c.id)
    )
    return [_agrement(row) for row in rows]


async def insert_agrement(session: AsyncSession, siret: str, agrement: Agrement) -> bool:
    """False when this organisme already has an agrément with the same reference."""
    inserted = await session.scalar(
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


async def get_agrement(session: AsyncSession, siret: str, agrement_id: uuid.UUID) -> Agrement | None:
    row = (
        await session.execute(
            select(agrements)
            .where(agrements.c.siret == siret, agrements.c.id == agrement_id)
            .with_for_update()
        )
    ).one_or_none()
    return None if row is None else _agrement(row)


async def record_withdrawal(session: AsyncSession, agrement: Agrement) -> None:
    await session.execute(
        update(agrements)
        .where(agrements.c.id == agrement.id)
        .values(withdrawn_on=agrement.withdrawn_on, withdrawal_reason=agrement.withdrawal_reason)
    )


async def insert_offer(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(offers).values(**values))


async def get_offer(session: AsyncSession, offer_id: uuid.UUID, *, lock: bool = False) -> Row[Any] | None:
    statement = select(offers, organismes.c.name.label("organisme_name")).join(
        organismes, organismes.c.siret == offers.c.siret
    )
    statement = statement.where(offers.c.id == offer_id)
    if lock:
        statement = statement.with_for_update(of=offers)
    return (await session.execute(statement)).one_or_none()


async def update_offer(session: AsyncSession, offer_id: uuid.UUID, values: dict[str, Any]) -> None:
    await session.execute(
        update(offers).where(offers.c.id == offer_id).values(**values, updated_at=func.now())
    )


async def sessions_of(session: AsyncSession, offer_id: uuid.UUID) -> Sequence[Row[Any]]:
    return (
        await session.execute(
            select(sessions)
            .where(sessions.c.offer_id == offer_id)
            .order_by(sessions.c.start_date, sessions.c.id)
        )
    ).all()


async def insert_session(session: AsyncSession, values: dict[str, Any]) -> None:
    await session.execute(insert(sessions).values(**values))


async def set_session_status(session: AsyncSession, session_id: uuid.UUID, status: str) -> None:
    await session.execute(update(sessions).where(sessions.c.id == session_id).values(status=status))


async def refresh_session_summary(session: AsyncSession, offer_id: uuid.UUID) -> None:
    """Keep the offer's search columns (first start, open start days) in step with its sessions."""
    await session.execute(
        text(
            """
            UPDATE offers SET
                next_start_date = open.first_start,
                open_session_starts = coalesce(open.days, '{}'::datemultirange),
                updated_at = now()
            FROM (SELECT min(start_date) AS first_start,
                         range_agg(daterange(start_date, start_date, '[]')) AS days
                  FROM sessions WHERE offer_id = :offer_id AND status = 'open') AS open
            WHERE offers.id = :offer_id
            """
        ),
        {"offer_id": offer_id},
    )


async def remember_dossier(
    session: AsyncSession, dossier_id: uuid.UUID, offer_id: uuid.UUID, session_id: uuid.UUID
) -> None:
    await session.execute(
        pg_insert(dossier_seats)
        .values(dossier_id=dossier_id, offer_id=offer_id, session_id=session_id)
        .on_conflict_do_nothing()
    )


async def set_seat_held(session: AsyncSession, dossier_id: uuid.UUID, *, held: bool) -> uuid.UUID | None:
    """Flip whether a dossier holds its seat; the session whose count changes, or None if nothing changed."""
    return await session.scalar(
        update(dossier_seats)
        .where(dossier_seats.c.dossier_id == dossier_id, dossier_seats.c.holds_seat.is_not(held))
        .values(holds_seat=held)
        .returning(dossier_seats.c.session_id)
    )


async def change_seats_taken(session: AsyncSession, session_id: uuid.UUID, delta: int) -> None:
    await session.execute(
        update(sessions)
        .where(sessions.c.id == session_id)
        .values(seats_taken=func.greatest(sessions.c.seats_taken + delta, 0))
    )


async def add_rating(
    session: AsyncSession, offer_id: uuid.UUID, rating: int
) -> tuple[str, Quality, Quality] | None:
    """Add one evaluation to the offer and to its organisme (R-DOS-6): the SIRET and both running scores."""
    offer = (
        await session.execute(
            update(offers)
            .where(offers.c.id == offer_id)
            .values(rating_count=offers.c.rating_count + 1, rating_sum=offers.c.rating_sum + rating)
            .returning(offers.c.siret, offers.c.rating_count, offers.c.rating_sum)
        )
    ).one_or_none()
    if offer is None:
        return None
    organisme = (
        await session.execute(
            update(organismes)
            .where(organismes.c.siret == offer.siret)
            .values(rating_count=organismes.c.rating_count + 1, rating_sum=organismes.c.rating_sum + rating)
            .returning(organismes.c.rating_count, organismes.c.rating_sum)
        )
    ).one()
    return (
        offer.siret,
        Quality(offer.rating_count, offer.rating_sum),
        Quality(organisme.rating_count, organisme.rating_sum),
    )


async def offers_of(
    session: AsyncSession, siret: str, after: tuple[Any, ...] | None, limit: int
) -> Sequence[Any]:
    """An organisme's offers, every status, oldest first: ``limit + 1`` rows after ``(created_at, id)``."""
    statement = select(
        offers.c.id,
        offers.c.created_at,
        offers.c.status,
        offers.c.kind,
        offers.c.title,
        offers.c.next_start_date,
    ).where(offers.c.siret == siret)
    if after is not None:
        statement = statement.where(tuple_(offers.c.created_at, offers.c.id) > tuple_(after[0], after[1]))
    return (
        await session.execute(statement.order_by(offers.c.created_at, offers.c.id).limit(limit + 1))
    ).all()


async def published_offers_of(session: AsyncSession, siret: str) -> Sequence[Any]:
    return (
        await session.execute(
            select(offers.c.id, offers.c.kind)
            .where(offers.c.siret == siret, offers.c.status == "published")
            .order_by(offers.c.id)
            .with_for_update()
        )
    ).all()
