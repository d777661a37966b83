"""The use cases on the in-memory repository and a recording outbox: orchestration and the events each
change implies, without PostgreSQL or Kafka (the contract test keeps the fake honest)."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from catalogue.adapters.memory import InMemoryCatalogue
from catalogue.domain.offers import MANDATE, Location, OfferContent, OfferStatus, SessionStatus
from catalogue.domain.organismes import Organisme
from catalogue.use_cases import dossiers, offers, organismes
from dife_contracts import Event
from dife_contracts.enums import AgrementStatus, Modality
from dife_contracts.events import (
    OfferPublished,
    OfferQualityUpdated,
    OfferWithdrawn,
    OrganismeAgrementChanged,
    SessionCancelled,
)
from servicekit.clock import MovableClock
from servicekit.rules import Conflict, InvalidTransition, NotFound, RulesBroken
from servicekit.testing.fakes import FakeOutbox

SELLER = "73282932000074"
OTHER = "35600000000048"
TODAY = date(2026, 11, 27)
NOW = datetime(2026, 11, 27, 10, 0, tzinfo=UTC)
LYON = Location("69123", "69001", "Lyon", "69", "84", 45.764, 4.836)
CONTENT = OfferContent(
    kind=MANDATE,
    title="Finances locales : construire et voter le budget",
    summary="Comprendre le budget communal.",
    objectives="",
    theme_code="FAL-03",
    certification_code=None,
    hours=Decimal(7),
    price_ht_cents=56_000,
    vat_rate_bp=0,
    modality=Modality.IN_PERSON,
    location=LYON,
    subcontracting=None,
)


class RecordingOutbox(FakeOutbox):
    def types(self) -> list[type[Event]]:
        return [type(event) for event in self.events]


def anyone(siret: str) -> None:
    """A guard that lets every caller act."""


def nobody(siret: str) -> None:
    raise PermissionError(siret)


@pytest.fixture
def repo() -> InMemoryCatalogue:
    return InMemoryCatalogue()


@pytest.fixture
def outbox() -> RecordingOutbox:
    return RecordingOutbox()


async def accredited(repo: InMemoryCatalogue, siret: str = SELLER) -> str:
    record = await organismes.register_organisme(
        repo, RecordingOutbox(), Organisme(siret, "Institut des élus", "84691234569"), today=TODAY
    )
    await organismes.grant_agrement(
        repo,
        RecordingOutbox(),
        siret,
        reference=f"AGR-{siret}",
        decision_date=date(2025, 1, 1),
        valid_from=date(2025, 1, 1),
        valid_until=date(2030, 12, 31),
    )
    return record.organisme.siret


async def draft(repo: InMemoryCatalogue, content: OfferContent = CONTENT) -> uuid.UUID:
    offer = await offers.create_offer(repo, siret=SELLER, content=content, today=TODAY, now=NOW)
    return offer.id


async def published(repo: InMemoryCatalogue, *starts: date) -> uuid.UUID:
    offer_id = await draft(repo)
    for start in starts or (date(2027, 3, 15),):
        await offers.add_session(
            repo, RecordingOutbox(), offer_id, start_date=start, end_date=start, capacity=12, guard=anyone
        )
    await offers.publish_offer(repo, RecordingOutbox(), offer_id, guard=anyone, now=NOW)
    return offer_id


async def test_an_offer_of_an_unknown_organisme_is_not_found(repo: InMemoryCatalogue) -> None:
    with pytest.raises(NotFound):
        await draft(repo)


async def test_a_draft_lists_every_rule_its_terms_break_R_OFR_1_R_OFR_3(repo: InMemoryCatalogue) -> None:
    await accredited(repo)
    with pytest.raises(RulesBroken) as refused:
        await draft(repo, replace(CONTENT, theme_code="NOPE", price_ht_cents=56_001))
    assert refused.value.rule_ids == ["R-OFR-1", "R-OFR-3"]
    assert repo.offers == {}


async def test_publishing_writes_the_full_snapshot_once(
    repo: InMemoryCatalogue, outbox: RecordingOutbox
) -> None:
    await accredited(repo)
    offer_id = await draft(repo)
    with pytest.raises(InvalidTransition):
        await offers.publish_offer(repo, outbox, offer_id, guard=anyone, now=NOW)
    session = await offers.add_session(
        repo,
        outbox,
        offer_id,
        start_date=date(2027, 3, 15),
        end_date=date(2027, 3, 16),
        capacity=12,
        guard=anyone,
    )
    assert outbox.events == []  # a draft's changes are nobody's business
    offer = await offers.publish_offer(repo, outbox, offer_id, guard=anyone, now=NOW)
    assert offer.status is OfferStatus.PUBLISHED
    assert outbox.types() == [OfferPublished]
    snapshot = outbox.events[0]
    assert isinstance(snapshot, OfferPublished)
    assert [s.session_id for s in snapshot.sessions] == [session.id]
    assert snapshot.published_at == NOW
    with pytest.raises(InvalidTransition):
        await offers.publish_offer(repo, outbox, offer_id, guard=anyone, now=NOW)
    assert outbox.types() == [OfferPublished]


async def test_publication_after_the_agrement_ended_is_refused_R_OF_1(repo: InMemoryCatalogue) -> None:
    await accredited(repo)
    offer_id = await draft(repo)
    await offers.add_session(
        repo, RecordingOutbox(), offer_id, start_date=date(2027, 3, 15), end_date=date(2027, 3, 15),
        capacity=12, guard=anyone,
    )  # fmt: skip
    agrement = (await repo.agrements_of(SELLER))[0]
    await repo.record_withdrawal(agrement.withdraw(date(2027, 3, 15), "retrait"))
    with pytest.raises(RulesBroken) as refused:
        await offers.publish_offer(repo, RecordingOutbox(), offer_id, guard=anyone, now=NOW)
    assert refused.value.rule_ids == ["R-OF-1"]


async def test_a_change_to_a_published_offer_publishes_it_again(
    repo: InMemoryCatalogue, outbox: RecordingOutbox
) -> None:
    await accredited(repo)
    offer_id = await published(repo)
    revised = await offers.revise_offer(
        repo, outbox, offer_id, {"title": "Le budget communal pas à pas"}, guard=anyone, today=TODAY
    )
    assert revised.content.title == "Le budget communal pas à pas"
    assert outbox.types() == [OfferPublished]
    assert repo.offers[offer_id].content.title == "Le budget communal pas à pas"


async def test_a_refused_change_saves_nothing_R_OFR_3(
    repo: InMemoryCatalogue, outbox: RecordingOutbox
) -> None:
    await accredited(repo)
    offer_id = await published(repo)
    with pytest.raises(RulesBroken):
        await offers.revise_offer(
            repo, outbox, offer_id, {"hours": Decimal("3.5")}, guard=anyone, today=TODAY
        )
    assert outbox.events == []
    assert repo.offers[offer_id].content.hours == Decimal(7)


async def test_a_guard_refusal_changes_nothing(repo: InMemoryCatalogue, outbox: RecordingOutbox) -> None:
    await accredited(repo)
    offer_id = await published(repo)
    with pytest.raises(PermissionError):
        await offers.withdraw_offer(repo, outbox, offer_id, reason="", guard=nobody, now=NOW)
    assert outbox.events == []
    assert repo.offers[offer_id].status is OfferStatus.PUBLISHED


async def test_withdrawing_a_published_offer_is_announced_a_draft_silently(
    repo: InMemoryCatalogue, outbox: RecordingOutbox
) -> None:
    await accredited(repo)
    public, private = await published(repo), await draft(repo)
    await offers.withdraw_offer(repo, outbox, private, reason="abandon", guard=anyone, now=NOW)
    await offers.withdraw_offer(repo, outbox, public, reason="fin", guard=anyone, now=NOW)
    assert outbox.types() == [OfferWithdrawn]
    with pytest.raises(InvalidTransition):
        await offers.withdraw_offer(repo, outbox, public, reason="encore", guard=anyone, now=NOW)


async def test_a_cancelled_session_is_announced_once(
    repo: InMemoryCatalogue, outbox: RecordingOutbox
) -> None:
    await accredited(repo)
    offer_id = await published(repo, date(2027, 3, 15), date(2027, 5, 10))
    second = repo.offers[offer_id].sessions[1].id
    cancelled = await offers.cancel_session(repo, outbox, offer_id, second, reason="malade", guard=anyone)
    assert cancelled.status is SessionStatus.CANCELLED
    assert outbox.types() == [SessionCancelled]
    with pytest.raises(InvalidTransition):
        await offers.cancel_session(repo, outbox, offer_id, second, reason="encore", guard=anyone)
    with pytest.raises(NotFound):
        await offers.cancel_session(repo, outbox, offer_id, uuid.uuid4(), reason="?", guard=anyone)


async def test_a_draft_is_hidden_from_anonymous_readers(repo: InMemoryCatalogue) -> None:
    await accredited(repo)
    offer_id = await draft(repo)
    with pytest.raises(NotFound):
        await offers.read_offer(repo, offer_id, draft_reader=None)
    with pytest.raises(PermissionError):
        await offers.read_offer(repo, offer_id, draft_reader=nobody)
    assert (await offers.read_offer(repo, offer_id, draft_reader=anyone)).id == offer_id


async def test_withdrawn_agrement_stops_the_sessions_it_covered_R_OF_1(
    repo: InMemoryCatalogue, outbox: RecordingOutbox
) -> None:
    await accredited(repo)
    kept = await published(repo, date(2027, 3, 15), date(2027, 9, 1))
    gone = await published(repo, date(2027, 10, 4))
    agrement = (await repo.agrements_of(SELLER))[0]
    clock = MovableClock(NOW)
    await organismes.withdraw_agrement(
        repo, outbox, SELLER, agrement.id, on=date(2027, 6, 1), reason="retrait", now=clock.now()
    )
    announced = [(type(e).__name__, getattr(e, "offer_id", None)) for e in outbox.events]
    assert announced[0] == ("OrganismeAgrementChanged", None)
    # Offers are visited in id order: each offer's events stay together and in order.
    assert sorted(announced[1:], key=lambda pair: str(pair[1])) == sorted(
        [("SessionCancelled", kept), ("SessionCancelled", gone), ("OfferWithdrawn", gone)],
        key=lambda pair: str(pair[1]),
    )
    assert [name for name, offer_id in announced if offer_id == gone] == [
        "SessionCancelled",
        "OfferWithdrawn",
    ]
    assert [s.start_date for s in repo.offers[kept].open_sessions] == [date(2027, 3, 15)]
    assert repo.offers[gone].status is OfferStatus.WITHDRAWN
    assert isinstance(outbox.events[0], OrganismeAgrementChanged)
    assert outbox.events[0].status is AgrementStatus.WITHDRAWN
    with pytest.raises(InvalidTransition):
        await organismes.withdraw_agrement(
            repo, outbox, SELLER, agrement.id, on=date(2027, 7, 1), reason="encore", now=clock.now()
        )


async def test_an_organisme_is_registered_once_and_a_second_agrement_is_a_renewal(
    repo: InMemoryCatalogue, outbox: RecordingOutbox
) -> None:
    await accredited(repo)
    with pytest.raises(Conflict):
        await organismes.register_organisme(
            repo, outbox, Organisme(SELLER, "Doublon", "84691234569"), today=TODAY
        )
    await organismes.grant_agrement(
        repo,
        outbox,
        SELLER,
        reference="AGR-RENOUVELLEMENT",
        decision_date=date(2030, 6, 1),
        valid_from=date(2031, 1, 1),
        valid_until=date(2035, 12, 31),
    )
    assert [e.status for e in outbox.events if isinstance(e, OrganismeAgrementChanged)] == [
        AgrementStatus.RENEWED
    ]
    record = await organismes.organisme_record(repo, SELLER, today=date(2031, 1, 1))
    assert record.accredited_today
    assert len(record.agrements) == 2


async def test_a_seat_is_taken_once_and_freed_once(repo: InMemoryCatalogue) -> None:
    await accredited(repo)
    offer_id = await published(repo)
    session_id = repo.offers[offer_id].sessions[0].id
    dossier = uuid.uuid4()
    assert not await dossiers.take_seat(repo, dossier)  # not submitted yet: unknown
    await dossiers.remember_dossier(repo, dossier, offer_id, session_id)
    assert await dossiers.take_seat(repo, dossier)
    assert not await dossiers.take_seat(repo, dossier)
    assert repo.offers[offer_id].sessions[0].seats_taken == 1
    assert await dossiers.free_seat(repo, dossier)
    assert not await dossiers.free_seat(repo, dossier)
    assert repo.offers[offer_id].sessions[0].seats_taken == 0


async def test_an_evaluation_updates_and_announces_both_scores_R_DOS_6(
    repo: InMemoryCatalogue, outbox: RecordingOutbox
) -> None:
    await accredited(repo)
    offer_id = await published(repo)
    await dossiers.record_evaluation(repo, outbox, offer_id, 5)
    await dossiers.record_evaluation(repo, outbox, offer_id, 4)
    last = outbox.events[-1]
    assert isinstance(last, OfferQualityUpdated)
    assert (last.offer_rating_count, last.offer_rating_average) == (2, Decimal("4.50"))
    assert last.organisme_rating_count == 2
    with pytest.raises(NotFound):
        await dossiers.record_evaluation(repo, outbox, uuid.uuid4(), 5)


async def test_an_in_person_offer_keeps_a_place_but_a_remote_one_may_drop_it_R_OFR_PLACE(
    repo: InMemoryCatalogue, outbox: RecordingOutbox
) -> None:
    await accredited(repo)
    offer_id = await draft(repo)
    with pytest.raises(RulesBroken) as refused:
        await offers.revise_offer(repo, outbox, offer_id, {"location": None}, guard=anyone, today=TODAY)
    assert refused.value.rule_ids == ["R-OFR-PLACE"]
    remote = await offers.revise_offer(
        repo, outbox, offer_id, {"location": None, "modality": Modality.REMOTE}, guard=anyone, today=TODAY
    )
    assert remote.content.location is None
