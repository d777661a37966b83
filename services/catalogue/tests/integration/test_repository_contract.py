"""One contract, two repositories: every scenario runs on the in-memory fake the unit tests use and on the
PostgreSQL repository the service uses, so the fake cannot promise what the database does not keep."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from catalogue.adapters.memory import InMemoryCatalogue
from catalogue.adapters.repository import SqlCatalogue
from catalogue.domain.offers import (
    MANDATE,
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
from dife_contracts.enums import Modality
from servicekit.testing import migrate
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"
CREATED = datetime(2026, 11, 27, 9, 30, 15, 123456, tzinfo=UTC)
CONTENT = OfferContent(
    kind=MANDATE,
    title="Finances locales : construire et voter le budget",
    summary="Comprendre le budget communal.",
    objectives="Lire un budget primitif.",
    theme_code="FAL-03",
    certification_code=None,
    hours=Decimal("10.5"),
    price_ht_cents=84_000,
    vat_rate_bp=2000,
    modality=Modality.MIXED,
    location=Location("69123", "69001", "Lyon", "69", "84", 45.764, 4.836),
    subcontracting=None,
)


@pytest.fixture(scope="module")
async def catalogue_database(database_factory: Callable[[], Awaitable[str]]) -> str:
    url = await database_factory()
    await migrate(ALEMBIC_INI, url)
    return url


@pytest.fixture(params=["memory", "postgresql"])
async def repo(request: pytest.FixtureRequest, catalogue_database: str) -> AsyncIterator[Any]:
    """The repository under contract; on PostgreSQL, the scenario runs in one transaction, committed."""
    if request.param == "memory":
        yield InMemoryCatalogue()
        return
    engine = create_async_engine(catalogue_database)
    try:
        async with async_sessionmaker(engine).begin() as session:
            yield SqlCatalogue(session)
    finally:
        await engine.dispose()


def an_organisme(siret: str) -> Organisme:
    return Organisme(siret, "Institut des élus", "84691234569", Address("1 rue de la Paix", "69001", "Lyon"))


def an_offer(siret: str, *, created_at: datetime = CREATED, content: OfferContent = CONTENT) -> Offer:
    return Offer(
        id=uuid.uuid4(),
        siret=siret,
        organisme_name="Institut des élus",
        content=content,
        created_at=created_at,
    )


def a_session(start: date, capacity: int = 12) -> OfferSession:
    return OfferSession(
        id=uuid.uuid4(), start_date=start, end_date=start + timedelta(days=1), capacity=capacity
    )


async def test_an_organisme_is_registered_once_and_read_back(repo: Any, siret: Callable[[], str]) -> None:
    organisme = an_organisme(siret())
    assert await repo.add_organisme(organisme)
    assert not await repo.add_organisme(replace(organisme, name="Doublon"))
    assert await repo.organisme(organisme.siret) == organisme
    assert await repo.organisme(siret()) is None


async def test_agrements_come_by_start_and_a_reference_is_recorded_once(
    repo: Any, siret: Callable[[], str]
) -> None:
    owner = siret()
    await repo.add_organisme(an_organisme(owner))
    later = Agrement(uuid.uuid4(), "AGR-2", date(2030, 6, 1), date(2031, 1, 1), date(2035, 12, 31))
    first = Agrement(uuid.uuid4(), "AGR-1", date(2025, 1, 1), date(2025, 1, 1), date(2030, 12, 31))
    assert await repo.add_agrement(owner, later)
    assert await repo.add_agrement(owner, first)
    assert not await repo.add_agrement(owner, replace(first, id=uuid.uuid4()))
    assert await repo.agrements_of(owner) == [first, later]
    withdrawn = first.withdraw(date(2027, 6, 1), "retrait ministériel")
    await repo.record_withdrawal(withdrawn)
    assert await repo.agrement(owner, first.id) == withdrawn
    assert await repo.agrement(siret(), first.id) is None


async def test_an_offer_reads_back_as_it_was_written(repo: Any, siret: Callable[[], str]) -> None:
    seller, partner = siret(), siret()
    await repo.add_organisme(an_organisme(seller))
    content = replace(CONTENT, subcontracting=Subcontracting(partner, Decimal("20.5")))
    offer = an_offer(seller, content=content)
    await repo.add_offer(offer)
    assert await repo.offer(offer.id) == offer
    assert await repo.offer(uuid.uuid4()) is None


async def test_saving_an_offer_writes_status_and_sessions_and_keeps_the_seats_taken(
    repo: Any, siret: Callable[[], str]
) -> None:
    seller = siret()
    await repo.add_organisme(an_organisme(seller))
    offer = an_offer(seller)
    await repo.add_offer(offer)
    offer.sessions = [a_session(date(2027, 5, 10)), a_session(date(2027, 3, 15))]
    offer.status, offer.published_at = OfferStatus.PUBLISHED, CREATED + timedelta(hours=1)
    await repo.save_offer(offer)
    saved = await repo.offer(offer.id)
    assert [s.start_date for s in saved.sessions] == [date(2027, 3, 15), date(2027, 5, 10)]
    assert (saved.status, saved.published_at) == (OfferStatus.PUBLISHED, offer.published_at)
    first = saved.sessions[0]
    dossier = uuid.uuid4()
    await repo.remember_dossier(dossier, offer.id, first.id)
    assert await repo.set_seat_held(dossier, held=True) == first.id
    await repo.change_seats_taken(first.id, +1)
    saved.sessions[1].status = SessionStatus.CANCELLED
    saved.content = replace(saved.content, title="Le budget communal pas à pas")
    await repo.save_offer(saved)
    again = await repo.offer(offer.id)
    assert [(s.status, s.seats_taken) for s in again.sessions] == [
        (SessionStatus.OPEN, 1),
        (SessionStatus.CANCELLED, 0),
    ]
    assert again.content.title == "Le budget communal pas à pas"
    assert [o.id for o in await repo.published_offers_of(seller)] == [offer.id]
    listed = await repo.offers_of(seller, None, 10)
    assert [(o.id, o.next_start_date) for o in listed] == [(offer.id, date(2027, 3, 15))]


async def test_an_organismes_offers_come_oldest_first_in_pages(repo: Any, siret: Callable[[], str]) -> None:
    seller = siret()
    await repo.add_organisme(an_organisme(seller))
    created = [an_offer(seller, created_at=CREATED + timedelta(minutes=n)) for n in (2, 0, 1)]
    for offer in created:
        await repo.add_offer(offer)
    oldest_first = [o.id for o in sorted(created, key=lambda o: o.created_at)]
    first_page = await repo.offers_of(seller, None, 2)
    assert [o.id for o in first_page] == oldest_first  # limit + 1: the third says there is more
    last = first_page[1]
    assert [o.id for o in await repo.offers_of(seller, (last.created_at, last.id), 2)] == oldest_first[2:]
    assert await repo.published_offers_of(seller) == []


async def test_a_seat_flips_once_each_way_and_counts_never_go_below_zero(
    repo: Any, siret: Callable[[], str]
) -> None:
    seller = siret()
    await repo.add_organisme(an_organisme(seller))
    offer = an_offer(seller)
    offer.sessions = [a_session(date(2027, 3, 15))]
    await repo.add_offer(offer)
    session_id, dossier = offer.sessions[0].id, uuid.uuid4()
    assert await repo.set_seat_held(dossier, held=True) is None  # unknown dossier
    await repo.remember_dossier(dossier, offer.id, session_id)
    await repo.remember_dossier(dossier, offer.id, uuid.uuid4())  # remembered once: the first session stays
    assert await repo.set_seat_held(dossier, held=False) is None  # holds none yet
    assert await repo.set_seat_held(dossier, held=True) == session_id
    assert await repo.set_seat_held(dossier, held=True) is None
    assert await repo.set_seat_held(dossier, held=False) == session_id
    await repo.change_seats_taken(session_id, -1)
    assert (await repo.offer(offer.id)).sessions[0].seats_taken == 0


async def test_a_rating_counts_for_the_offer_and_its_organisme_R_DOS_6(
    repo: Any, siret: Callable[[], str]
) -> None:
    seller = siret()
    await repo.add_organisme(an_organisme(seller))
    first, second = an_offer(seller), an_offer(seller)
    await repo.add_offer(first)
    await repo.add_offer(second)
    await repo.add_rating(first.id, 5)
    rated = await repo.add_rating(second.id, 2)
    assert (rated.siret, rated.offer_quality, rated.organisme_quality) == (
        seller,
        Quality(1, 2),
        Quality(2, 7),
    )
    assert (await repo.offer(first.id)).quality == Quality(1, 5)
    assert (await repo.organisme(seller)).quality == Quality(2, 7)
    assert await repo.add_rating(uuid.uuid4(), 5) is None


async def test_the_repertoire_lists_its_themes_in_order_with_their_family_R_OFR_1(repo: Any) -> None:
    themes = await repo.themes()
    assert [t.code for t in themes[:3]] == ["FAL-01", "FAL-02", "FAL-03"]
    assert len(themes) == 27
    assert themes[0].family_label == "Les fondamentaux de l'action publique locale"
    assert {t.family for t in themes} == {"FAL", "CCO", "EPE"}
