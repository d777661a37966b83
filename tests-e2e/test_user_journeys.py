"""The journeys of issue 13, each through the public REST APIs and the PSP webhook only, on the six running
services (`conftest.platform`), time moved with the services' test clock; every side is checked: the dossier
(status, history), the plan, the élu's ledger (balance, journal), the OF's payment and the events on Kafka.

Each journey starts at the platform's `START` day with élus and an organisme of its own, so journeys share one
platform (one per pytest worker, its journeys run one after the other) and never see each other's data. An RNE
snapshot ends the mandates of every élu it does not list (R-REG-2): that is why each journey imports its own
élus first, and why the reinsertion journey's snapshot, ending its élu's mandate, harms no other journey.
"""

from __future__ import annotations

import json
import uuid
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from dife_contracts import Envelope, topics
from dife_contracts.event import Event
from dife_contracts.events import (
    DeclarationReceived,
    DifeCaptureRequested,
    DossierCancelled,
    PaymentOrdered,
    PaymentReceived,
    RefundOrdered,
)
from driver import IBANS, START, Dife, Elu, Offer, Organisme
from integrator import published_schemas, read_from_start
from servicekit.testing import collect, read_to_end

if TYPE_CHECKING:
    from conftest import Platform

YEAR = START.year
CREDIT = 40_000
"""What the municipal campaign credits a year (R-ACC-1)."""
SESSION_START = date(2027, 4, 26)  # a Monday, 14 working days after START
SESSION_END = date(2027, 4, 27)
P = TypeVar("P", bound=Event)


async def _fresh(
    dife: Dife, *, elus: int = 1, price_cents: int = 35_000, commune_code: str = "01001", **offer: Any
) -> tuple[list[Elu], Offer]:
    """The clock at START; new élus credited for the year; an OF with an agrément and a published offer."""
    await dife.set_clock(START)
    registered = await dife.register_elus(elus, year=YEAR, commune_code=commune_code)
    organisme = await dife.register_organisme(
        agrement_from=date(2027, 1, 1), agrement_until=date(2029, 12, 31)
    )
    published = await dife.publish_offer(
        organisme, [(SESSION_START, SESSION_END)], price_cents=price_cents, **offer
    )
    return registered, published


async def _to_plan_ready(dife: Dife, elu: Elu, offer: Offer) -> dict[str, Any]:
    dossier_id = await dife.submit(elu, offer)
    await dife.validate(offer.organisme, dossier_id)
    return await dife.wait_plan_ready(dossier_id)


async def _dossier_events(
    platform: Platform, dossier_id: str, count: int, timeout_s: float = 30
) -> list[str]:
    found = await collect(
        platform.infra,
        platform.topic(topics.DOSSIER),
        count=count,
        timeout_s=timeout_s,
        where=lambda e: e.subject == dossier_id,
    )
    return [e.type.removeprefix("dife.dossier.").removesuffix(".v1") for e in found]


async def _exactly_one_event(platform: Platform, topic: str, ce_type: str, dossier_id: str) -> bool:
    """The event is on Kafka (waited for as long as a loaded machine needs), then nothing but it in what the
    topic holds: a duplicate would already be there, since its cause was answered before."""

    def wanted(envelope: Envelope) -> bool:
        return envelope.type == ce_type and envelope.subject == dossier_id

    if not await collect(platform.infra, platform.topic(topic), count=1, timeout_s=60, where=wanted):
        return False
    return sum(map(wanted, await read_to_end(platform.infra, platform.topic(topic)))) == 1


def _path(dossier: dict[str, Any]) -> list[str]:
    return [step["to_status"] for step in dossier["history"]]


PAID_PATH_EVENTS = [
    "dossier_submitted",
    "dossier_validated",
    "dossier_accepted",
    "training_started",
    "training_completed",
    "service_done_declared",
    "service_done_validated",
    "dossier_paid",
]


async def _plan_ends(dife: Dife, elu: Elu, dossier_id: str, *lines: tuple[str, str]) -> dict[str, Any]:
    """The plan once funding closed it with each line's `(source, status)` as expected (it follows the
    dossier's, payout's and the ledger's events)."""

    async def ended() -> dict[str, Any] | None:
        plan = await dife.plan(elu, dossier_id)
        seen = [(line["source"], line["status"]) for line in plan["lines"]]
        return plan if plan["status"] == "closed" and seen == list(lines) else None

    plan: dict[str, Any] = await dife.until(f"plan {dossier_id} closed with {lines}", ended)
    return plan


async def _payout_event(platform: Platform, dossier_id: str, kind: type[P]) -> P:
    """The one `kind` of event payout published for the dossier, parsed."""
    [found] = await collect(
        platform.infra,
        platform.topic(topics.PAYOUT),
        count=1,
        timeout_s=30,
        where=lambda e: e.type == kind.ce_type and e.subject == dossier_id,
    )
    event = found.parse()
    assert isinstance(event, kind)
    return event


async def test_journey_1_happy_path_dife_only_from_request_to_paid(platform: Platform, dife: Dife) -> None:
    """submitted → validated → plan_ready → accepted → in_training → completed → service_done_declared →
    (5 working days, R-DOS-4) service_done_validated → payment sent → settled → paid."""
    [elu], offer = await _fresh(dife, price_cents=35_000)
    organisme: Organisme = offer.organisme
    await dife.verified_bank_details(organisme)

    ready = await _to_plan_ready(dife, elu, offer)
    dossier_id = str(ready["id"])
    assert ready["status"] == "validated"
    assert [(line["source"], line["amount_cents"]) for line in ready["plan"]["lines"]] == [("dife", 35_000)]
    plan = await dife.plan(elu, dossier_id)
    assert plan["status"] == "ready" and [line["status"] for line in plan["lines"]] == ["secured"]
    await dife.wait_account(elu, balance_cents=CREDIT, held_cents=35_000, available_cents=5_000)

    assert (await dife.accept(elu, dossier_id))["status"] == "accepted"
    await dife.set_paris_day(SESSION_START)
    assert (await dife.enter(organisme, dossier_id, SESSION_START))["status"] == "in_training"
    await dife.set_paris_day(SESSION_END, hour=18)
    done = await dife.exit(organisme, dossier_id, SESSION_END, "14")
    assert done["status"] == "service_done_declared"
    assert done["realisation_percent"] == 100

    validation_day = date.fromisoformat(done["deadlines"]["auto_validation_on"])
    assert validation_day == date(2027, 5, 4)  # 5 working days after Tue 27 April (1 May is a Saturday)
    await dife.set_paris_day(validation_day, hour=23)
    assert (await dife.dossier(dossier_id))["status"] == "service_done_declared"  # the day itself: not yet
    await dife.set_paris_day(validation_day + timedelta(days=1), hour=9)
    await dife.wait_status(dossier_id, "service_done_validated")

    payment = await dife.settle(dossier_id)
    assert payment["amount_cents"] == 35_000 and payment["settled_cents"] == 35_000
    assert payment["siret"] == organisme.siret and payment["realisation_percent"] == 100
    paid = await dife.wait_status(dossier_id, "paid")
    assert paid["amount_paid_cents"] == 35_000
    assert _path(paid) == [
        "submitted",
        "validated",
        "accepted",
        "in_training",
        "completed",
        "service_done_declared",
        "service_done_validated",
        "paid",
    ]

    account = await dife.wait_account(elu, balance_cents=CREDIT - 35_000, held_cents=0)
    assert account["available_cents"] == 5_000
    journal = await dife.movements(elu)
    assert sum(m["balance_delta_cents"] for m in journal) == account["balance_cents"]
    assert sum(m["held_delta_cents"] for m in journal) == 0
    assert sorted(m["kind"] for m in journal) == sorted(["credit", "hold", "capture"])
    await _plan_ends(dife, elu, dossier_id, ("dife", "consumed"))
    ordered = await _payout_event(platform, dossier_id, PaymentOrdered)
    assert (ordered.amount_cents, ordered.realisation_percent) == (35_000, 100)
    assert ordered.siret == organisme.siret
    asked = await _payout_event(platform, dossier_id, DifeCaptureRequested)
    assert (asked.amount_cents, str(asked.elu_id)) == (35_000, elu.elu_id)

    listed = await dife.public_list(siret=organisme.siret)
    assert [(item["cost_cents"], item["siret"]) for item in listed] == [(35_000, organisme.siret)]
    assert listed[0]["family_name"] == elu.person.family_name

    assert await _dossier_events(platform, dossier_id, 8) == PAID_PATH_EVENTS


def _kinds(journal: list[dict[str, Any]]) -> list[str]:
    return sorted(m["kind"] for m in journal)


async def _balance_is_the_journal(dife: Dife, elu: Elu, **expected: int) -> dict[str, Any]:
    """The account once it shows `expected`, and its balance and held amount equal to its journal's sums."""
    account = await dife.wait_account(elu, **expected)
    journal = await dife.movements(elu)
    assert sum(m["balance_delta_cents"] for m in journal) == account["balance_cents"]
    assert sum(m["held_delta_cents"] for m in journal) == account["held_cents"]
    return account


async def test_journey_2_refusal_and_silences_end_dossiers_and_release_the_hold_R_DOS_1(
    platform: Platform, dife: Dife
) -> None:
    """The OF refuses; the OF stays silent past 2 working days → expired; the élu stays silent past
    4 working days after validation → expired, and its held rights come back."""
    (refused_elu, unanswered_elu, silent_elu), offer = await _fresh(dife, elus=3)
    organisme = offer.organisme

    refused = await dife.submit(refused_elu, offer)
    assert (await dife.refuse(organisme.headers, refused, "session complète"))[
        "status"
    ] == "refused_by_organisme"

    unanswered = await dife.submit(unanswered_elu, offer)
    assert (await dife.dossier(unanswered))["deadlines"]["answer_by"] == "2027-04-08"  # Tue → Thu

    silent = (await _to_plan_ready(dife, silent_elu, offer))["id"]
    validated = await dife.dossier(silent)
    assert validated["deadlines"]["accept_by"] == "2027-04-12"  # 4 working days after Tue 6 April
    await dife.wait_account(silent_elu, held_cents=35_000)

    await dife.set_paris_day(date(2027, 4, 8), hour=23)  # the OF's last day: still its turn
    assert (await dife.dossier(unanswered))["status"] == "submitted"
    await dife.set_paris_day(date(2027, 4, 9), hour=0)
    assert _path(await dife.wait_status(unanswered, "expired"))[-1] == "expired"

    await dife.set_paris_day(date(2027, 4, 12), hour=23)  # the élu's last day: still validated
    assert (await dife.dossier(silent))["status"] == "validated"
    await dife.set_paris_day(date(2027, 4, 13), hour=0)
    await dife.wait_status(silent, "expired")

    for elu in (refused_elu, unanswered_elu):
        account = await _balance_is_the_journal(dife, elu, balance_cents=CREDIT, held_cents=0)
        assert _kinds(await dife.movements(elu)) == ["credit"]  # nothing was ever held
        assert account["available_cents"] == CREDIT
    await _balance_is_the_journal(
        dife, silent_elu, balance_cents=CREDIT, held_cents=0, available_cents=CREDIT
    )
    assert _kinds(await dife.movements(silent_elu)) == ["credit", "hold", "release"]
    assert [hold["status"] for hold in await dife.holds(silent_elu)] == ["voided"]
    await _plan_ends(dife, silent_elu, silent, ("dife", "released"))
    assert [await dife.payment(d) for d in (refused, unanswered, silent)] == [None, None, None]

    assert await _dossier_events(platform, refused, 2) == ["dossier_submitted", "dossier_refused"]
    assert await _dossier_events(platform, unanswered, 2) == ["dossier_submitted", "dossier_expired"]
    assert await _dossier_events(platform, silent, 3) == [
        "dossier_submitted",
        "dossier_validated",
        "dossier_expired",
    ]
    assert not await dife.public_list(siret=organisme.siret)


async def _accepted(dife: Dife, elu: Elu, offer: Offer, session_id: str | None = None) -> str:
    dossier_id = await dife.submit(elu, offer, session_id)
    await dife.validate(offer.organisme, dossier_id)
    await dife.wait_plan_ready(dossier_id)
    assert (await dife.accept(elu, dossier_id))["status"] == "accepted"
    return dossier_id


async def test_journey_3_cancellations_early_late_with_force_majeure_and_by_the_organisme_R_DOS_5(
    platform: Platform, dife: Dife
) -> None:
    """The élu cancels 8 working days before the start → rights back; 7 working days before (the edge) or 3
    without force majeure → rights consumed, the OF paid nothing; 3 working days before WITH force majeure →
    rights back; the OF cancels a session → its dossiers cancelled, rights back."""
    second_session = (date(2027, 5, 10), date(2027, 5, 11))
    (early_elu, seventh_elu, late_elu, excused_elu, first_elu, second_elu), offer = await _fresh(dife, elus=6)
    organisme = offer.organisme
    later = await dife.publish_offer(organisme, [second_session])
    early = await _accepted(dife, early_elu, offer)
    seventh = await _accepted(dife, seventh_elu, offer)
    late = await _accepted(dife, late_elu, offer)
    excused = await _accepted(dife, excused_elu, offer)
    on_cancelled_session = [await _accepted(dife, first_elu, later)]
    for elu in (early_elu, seventh_elu, late_elu, excused_elu, first_elu):
        await dife.wait_account(elu, held_cents=35_000)

    await dife.set_paris_day(date(2027, 4, 14))  # 15…26 April: 8 working days before Monday 26
    cancelled = await dife.cancel(early_elu.headers, early, "empêchement")
    assert (cancelled["status"], cancelled["rights_consumed"]) == ("cancelled_by_elu", False)
    await _balance_is_the_journal(dife, early_elu, balance_cents=CREDIT, held_cents=0)
    assert _kinds(await dife.movements(early_elu)) == ["credit", "hold", "release"]

    await dife.set_paris_day(date(2027, 4, 15))  # 16…26 April: 7 working days before, no longer free
    at_the_edge = await dife.cancel(seventh_elu.headers, seventh, "convenance", force_majeure=False)
    assert (at_the_edge["status"], at_the_edge["rights_consumed"]) == ("cancelled_by_elu", True)
    await _balance_is_the_journal(dife, seventh_elu, balance_cents=CREDIT - 35_000, held_cents=0)
    assert _kinds(await dife.movements(seventh_elu)) == ["capture", "credit", "hold"]

    await dife.set_paris_day(date(2027, 4, 21))  # 22, 23, 26 April: 3 working days before the start
    consumed = await dife.cancel(late_elu.headers, late, "convenance", force_majeure=False)
    assert (consumed["status"], consumed["rights_consumed"]) == ("cancelled_by_elu", True)
    await _balance_is_the_journal(dife, late_elu, balance_cents=CREDIT - 35_000, held_cents=0)
    assert _kinds(await dife.movements(late_elu)) == ["capture", "credit", "hold"]

    forgiven = await dife.cancel(excused_elu.headers, excused, "hospitalisation", force_majeure=True)
    assert (forgiven["status"], forgiven["rights_consumed"]) == ("cancelled_by_elu", False)
    await _balance_is_the_journal(
        dife, excused_elu, balance_cents=CREDIT, held_cents=0, available_cents=CREDIT
    )
    excused_journal = await dife.movements(excused_elu)
    assert _kinds(excused_journal) == ["credit", "hold", "release"]
    [release] = [m for m in excused_journal if m["kind"] == "release"]
    assert (release["amount_cents"], release["dossier_id"]) == (35_000, excused)
    assert [(h["dossier_id"], h["status"]) for h in await dife.holds(excused_elu)] == [(excused, "voided")]
    cancelled_late = ((late, False, "convenance"), (excused, True, "hospitalisation"))
    for dossier_id, force_majeure, reason in cancelled_late:
        last_step = (await dife.dossier(dossier_id))["history"][-1]
        assert (last_step["to_status"], last_step["by_role"], last_step["reason"]) == (
            "cancelled_by_elu",
            "elu",
            reason,
        )
        [event] = await collect(
            platform.infra,
            platform.topic(topics.DOSSIER),
            count=1,
            timeout_s=30,
            where=lambda e, d=dossier_id: e.type == "dife.dossier.dossier_cancelled.v1" and e.subject == d,
        )
        payload = event.parse()
        assert isinstance(payload, DossierCancelled)
        assert (payload.force_majeure, payload.rights_consumed) == (force_majeure, not force_majeure)

    still_validated = await dife.submit(
        second_elu, later
    )  # validated today: the élu may accept until the 27th
    await dife.validate(organisme, still_validated)
    await dife.wait_plan_ready(still_validated)
    on_cancelled_session.append(still_validated)
    await dife.wait_account(second_elu, held_cents=35_000)
    await dife.cancel_session(later, later.session_ids[0], "formateur indisponible")
    announced = await collect(
        platform.infra,
        platform.topic(topics.CATALOGUE),
        count=1,
        timeout_s=30,
        where=lambda e: e.type == "dife.catalogue.session_cancelled.v1" and e.subject == later.offer_id,
    )
    assert len(announced) == 1
    for dossier_id in on_cancelled_session:
        gone = await dife.wait_status(dossier_id, "cancelled_by_organisme")
        assert gone["rights_consumed"] in (False, None)
    for elu in (first_elu, second_elu):
        await _balance_is_the_journal(dife, elu, balance_cents=CREDIT, held_cents=0, available_cents=CREDIT)
        assert _kinds(await dife.movements(elu)) == ["credit", "hold", "release"]

    cancelled_by_elus = (early, seventh, late, excused)
    for elu, dossier_id, dife_line in (
        (early_elu, early, "released"),
        (seventh_elu, seventh, "consumed"),
        (late_elu, late, "consumed"),
        (excused_elu, excused, "released"),
        (first_elu, on_cancelled_session[0], "released"),
        (second_elu, still_validated, "released"),
    ):
        await _plan_ends(dife, elu, dossier_id, ("dife", dife_line))
    payments = [await dife.payment(d) for d in (*cancelled_by_elus, *on_cancelled_session)]
    assert payments == [None] * 6  # the OF is paid nothing: payout orders no payment
    for consumed_dossier in (seventh, late):  # R-DOS-5 (policy): payout captures the whole DIFE hold
        asked = await _payout_event(platform, consumed_dossier, DifeCaptureRequested)
        assert asked.amount_cents == 35_000
    for dossier_id in cancelled_by_elus:
        assert (await dife.dossier(dossier_id))["amount_paid_cents"] in (0, None)
    for dossier_id in cancelled_by_elus:
        assert await _dossier_events(platform, dossier_id, 4) == [
            "dossier_submitted",
            "dossier_validated",
            "dossier_accepted",
            "dossier_cancelled",
        ]
    assert await _dossier_events(platform, still_validated, 3) == [
        "dossier_submitted",
        "dossier_validated",
        "dossier_cancelled",
    ]


async def _through_service_done(
    dife: Dife, elu: Elu, offer: Offer, hours_attended: str
) -> tuple[str, dict[str, Any]]:
    """Accepted, trained, exited with `hours_attended`, then validated by the 5 working days' silence."""
    dossier_id = await _accepted(dife, elu, offer)
    await dife.set_paris_day(SESSION_START)
    await dife.enter(offer.organisme, dossier_id, SESSION_START)
    await dife.set_paris_day(SESSION_END, hour=18)
    done = await dife.exit(offer.organisme, dossier_id, SESSION_END, hours_attended)
    validation_day = date.fromisoformat(done["deadlines"]["auto_validation_on"])
    await dife.set_paris_day(validation_day + timedelta(days=1), hour=9)
    return dossier_id, await dife.wait_status(dossier_id, "service_done_validated")


async def test_journey_4_a_70_percent_realisation_pays_70_percent_and_gives_30_percent_back_R_PAY_1(
    platform: Platform, dife: Dife
) -> None:
    """9.8 of 14 hours attended: the OF is paid 70 % of the price; the other 30 % of the DIFE share comes
    back to the élu (R-DOS-3, R-PAY-1, R-PAY-2)."""
    [elu], offer = await _fresh(dife, price_cents=35_000)
    await dife.verified_bank_details(offer.organisme)
    dossier_id, validated = await _through_service_done(dife, elu, offer, "9.8")
    assert validated["realisation_percent"] == 70

    payment = await dife.settle(dossier_id)
    assert (payment["amount_cents"], payment["realisation_percent"]) == (24_500, 70)
    paid = await dife.wait_status(dossier_id, "paid")
    assert paid["amount_paid_cents"] == 24_500

    account = await _balance_is_the_journal(dife, elu, balance_cents=CREDIT - 24_500, held_cents=0)
    assert account["available_cents"] == 15_500  # 10,500 of the 35,000 held came back
    journal = await dife.movements(elu)
    assert {m["kind"] for m in journal} >= {"credit", "hold", "capture"}
    assert sum(m["amount_cents"] for m in journal if m["kind"] == "capture") == 24_500
    assert [(h["status"], h["captured_cents"]) for h in await dife.holds(elu)] == [("posted", 24_500)]
    await _plan_ends(dife, elu, dossier_id, ("dife", "consumed"))
    asked = await _payout_event(platform, dossier_id, DifeCaptureRequested)
    assert asked.amount_cents == 24_500
    assert _path(paid)[-2:] == ["service_done_validated", "paid"]
    assert await _dossier_events(platform, dossier_id, 8) == PAID_PATH_EVENTS


async def test_journey_5_a_mandate_training_topped_up_by_the_collectivite_then_paid_R_FUN_2(
    platform: Platform, dife: Dife
) -> None:
    """The DIFE is 300 € short of the price: the élu's commune tops it up from its envelope (R-FUN-2), the
    plan is ready without the élu paying, the OF is paid the whole price, the DIFE share captured."""
    [elu], offer = await _fresh(dife, price_cents=CREDIT + 30_000)
    await dife.verified_bank_details(offer.organisme)
    [mandate] = (await dife.elu_record(elu))["mandates"]
    commune = dife.collectivite()
    envelope = await dife.open_envelope(
        commune,
        mandate["collectivite_code"],
        budget_cents=100_000,
        per_elu_ceiling_cents=50_000,
        valid_from=date(2027, 1, 1),
        valid_until=date(2027, 12, 31),
        automatic=True,
    )

    ready = await _to_plan_ready(dife, elu, offer)
    dossier_id = str(ready["id"])
    assert sorted((line["source"], line["amount_cents"]) for line in ready["plan"]["lines"]) == [
        ("collectivite", 30_000),
        ("dife", CREDIT),
    ]
    reserved = await dife.envelope(commune, envelope["envelope_id"])
    assert (reserved["reserved_cents"], reserved["remaining_cents"]) == (30_000, 70_000)

    assert (await dife.accept(elu, dossier_id))["status"] == "accepted"
    payment = await _trained_and_paid(dife, offer, dossier_id, "14", session=(SESSION_START, SESSION_END))
    assert payment["amount_cents"] == payment["settled_cents"] == CREDIT + 30_000
    await _balance_is_the_journal(dife, elu, balance_cents=0, held_cents=0)
    [capture] = [m for m in await dife.movements(elu) if m["kind"] == "capture"]
    assert (capture["amount_cents"], capture["dossier_id"]) == (CREDIT, dossier_id)
    await _plan_ends(dife, elu, dossier_id, ("dife", "consumed"), ("collectivite", "consumed"))
    assert (await dife.envelope(commune, envelope["envelope_id"]))["remaining_cents"] == 70_000
    assert await _dossier_events(platform, dossier_id, 8) == PAID_PATH_EVENTS


async def test_journey_5_a_price_above_dife_and_top_up_is_completed_by_card_through_the_webhook_R_FUN_4(
    platform: Platform, dife: Dife
) -> None:
    """The DIFE (400 €) and the commune's top-up (its per-élu ceiling, 300 €) leave 120 €: the élu pays them
    by card; the provider's notification is signed (HMAC), a forged one is refused, a wrong amount too, a
    replay changes nothing; the plan is ready once the card is confirmed. After the service the OF is paid
    the whole price, the DIFE share is captured, the top-up and the card consumed, nothing refunded."""
    price = CREDIT + 30_000 + 12_000
    # a commune of its own: journey 5's envelope (automatic, budget left) tops up the élus of 01001 first
    [elu], offer = await _fresh(dife, price_cents=price, commune_code="01002")
    await dife.verified_bank_details(offer.organisme)
    [mandate] = (await dife.elu_record(elu))["mandates"]
    commune = dife.collectivite()
    envelope = await dife.open_envelope(
        commune,
        mandate["collectivite_code"],
        budget_cents=100_000,
        per_elu_ceiling_cents=30_000,
        valid_from=date(2027, 1, 1),
        valid_until=date(2027, 12, 31),
        automatic=True,
    )
    dossier_id = await dife.submit(elu, offer)
    await dife.validate(offer.organisme, dossier_id)
    proposed = await dife.wait_plan(elu, dossier_id, "proposed")

    async def dife_secured() -> dict[str, Any] | None:
        plan = await dife.plan(elu, dossier_id)
        lines = {line["source"]: line for line in plan["lines"]}
        return plan if lines.get("dife", {}).get("status") == "secured" else None

    plan = await dife.until("the DIFE line secured", dife_secured)
    assert [(line["source"], line["amount_cents"], line["status"]) for line in plan["lines"]] == [
        ("dife", CREDIT, "secured"),
        ("collectivite", 30_000, "secured"),
        ("elu_card", 12_000, "pending"),
    ], proposed
    intent = await dife.card_payment(elu, dossier_id)
    assert intent["amount_cents"] == 12_000

    forged = await dife.psp_notify(str(intent["intent_id"]), 12_000, secret="not-the-provider")
    assert forged.status_code == 401, forged.text
    wrong_amount = await dife.psp_notify(str(intent["intent_id"]), 11_999)
    assert wrong_amount.status_code == 422 and "R-FUN-4" in wrong_amount.text
    notification = f"evt_e2e_card_{uuid.uuid4().hex[:8]}"
    confirmed = await dife.psp_notify(str(intent["intent_id"]), 12_000, notification_id=notification)
    assert confirmed.status_code == 200, confirmed.text
    replayed = await dife.psp_notify(str(intent["intent_id"]), 12_000, notification_id=notification)
    assert replayed.status_code == 200 and replayed.json().get("replayed") is True

    ready = await dife.wait_plan_ready(dossier_id)
    assert [(line["source"], line["amount_cents"]) for line in ready["plan"]["lines"]] == [
        ("dife", CREDIT),
        ("collectivite", 30_000),
        ("elu_card", 12_000),
    ]
    assert await _exactly_one_event(
        platform, topics.FUNDING, "dife.funding.card_payment_confirmed.v1", dossier_id
    ), "the replayed notification confirms nothing twice"

    assert (await dife.accept(elu, dossier_id))["status"] == "accepted"
    payment = await _trained_and_paid(dife, offer, dossier_id, "14", session=(SESSION_START, SESSION_END))
    assert (payment["amount_cents"], payment["settled_cents"]) == (price, price)

    await _balance_is_the_journal(dife, elu, balance_cents=0, held_cents=0)
    [capture] = [m for m in await dife.movements(elu) if m["kind"] == "capture"]
    assert (capture["amount_cents"], capture["dossier_id"]) == (CREDIT, dossier_id)
    every_line_consumed = (("dife", "consumed"), ("collectivite", "consumed"), ("elu_card", "consumed"))
    await _plan_ends(dife, elu, dossier_id, *every_line_consumed)
    assert (await dife.envelope(commune, envelope["envelope_id"]))["remaining_cents"] == 70_000
    assert await _dossier_events(platform, dossier_id, 8) == PAID_PATH_EVENTS


REINSERTION_PRICE = 100_000
CPF_SHARE = 45_000
CARD_SHARE = REINSERTION_PRICE - CREDIT - CPF_SHARE
REINSERTION_SESSION = (date(2027, 9, 13), date(2027, 9, 14))


async def _former_elu_and_reinsertion_offer(
    dife: Dife, *more_sessions: tuple[date, date]
) -> tuple[Elu, Offer]:
    """At START, an élu whose mandate ends that day (R-END-1: reinsertion until 6 October 2027) with 400 €,
    and a CPF-eligible offer (R-OFR-2) at 1,000 € whose first session is in September."""
    await dife.set_clock(START)
    elu = await dife.register_former_elu(year=YEAR, mandate_ended_on=START.date(), commune_code="01003")
    organisme = await dife.register_organisme(
        agrement_from=date(2027, 1, 1), agrement_until=date(2029, 12, 31)
    )
    await dife.verified_bank_details(organisme)
    offer = await dife.publish_offer(
        organisme, [REINSERTION_SESSION, *more_sessions], price_cents=REINSERTION_PRICE, kind="reinsertion"
    )
    return elu, offer


async def _reinsertion_plan_ready(dife: Dife, elu: Elu, offer: Offer) -> tuple[str, str]:
    """The September session requested and validated; its plan: the DIFE first (R-FUN-1), a CPF commitment
    with its reference (R-FUN-3), the rest by card through the signed webhook (R-FUN-4). Returns the dossier
    id and the CPF reference, once the plan is ready and the dossier accepted."""
    dossier_id = await dife.submit(elu, offer, offer.session_ids[0])
    await dife.validate(offer.organisme, dossier_id)
    await dife.wait_plan(elu, dossier_id, "proposed")  # the card line waits: never ready by itself

    async def dife_secured() -> dict[str, Any] | None:
        plan = await dife.plan(elu, dossier_id)
        lines = {line["source"]: line for line in plan["lines"]}
        return plan if lines.get("dife", {}).get("status") == "secured" else None

    proposed = await dife.until("the DIFE line secured", dife_secured)
    assert [(line["source"], line["amount_cents"]) for line in proposed["lines"]] == [
        ("dife", CREDIT),
        ("elu_card", REINSERTION_PRICE - CREDIT),
    ]
    completed = await dife.add_external_commitment(elu, dossier_id, "cpf", CPF_SHARE)
    cpf_reference = str(completed["lines"][1]["reference"])
    assert [(line["source"], line["amount_cents"], line["status"]) for line in completed["lines"]] == [
        ("dife", CREDIT, "secured"),
        ("cpf", CPF_SHARE, "secured"),
        ("elu_card", CARD_SHARE, "pending"),
    ]
    assert completed["status"] == "proposed" and cpf_reference.startswith("CPF-")

    intent = await dife.card_payment(elu, dossier_id)
    assert intent["amount_cents"] == CARD_SHARE
    confirmed = await dife.psp_notify(str(intent["intent_id"]), CARD_SHARE)
    assert confirmed.status_code == 200, confirmed.text
    ready = await dife.wait_plan_ready(dossier_id)
    assert [(line["source"], line["amount_cents"]) for line in ready["plan"]["lines"]] == [
        ("dife", CREDIT),
        ("cpf", CPF_SHARE),
        ("elu_card", CARD_SHARE),
    ]
    await dife.wait_account(elu, balance_cents=CREDIT, held_cents=CREDIT, available_cents=0)
    assert (await dife.accept(elu, dossier_id))["status"] == "accepted"
    return dossier_id, cpf_reference


async def _trained_and_paid(
    dife: Dife,
    offer: Offer,
    dossier_id: str,
    hours_attended: str,
    session: tuple[date, date] = REINSERTION_SESSION,
) -> dict[str, Any]:
    """The session (the September one by default) attended `hours_attended` of 14 hours, validated by the
    5 working days' silence (R-DOS-4), paid and settled; returns the payment."""
    organisme, (first_day, last_day) = offer.organisme, session
    await dife.set_paris_day(first_day)
    await dife.enter(organisme, dossier_id, first_day)
    await dife.set_paris_day(last_day, hour=18)
    done = await dife.exit(organisme, dossier_id, last_day, hours_attended)
    await dife.set_paris_day(date.fromisoformat(done["deadlines"]["auto_validation_on"]) + timedelta(days=1))
    await dife.wait_status(dossier_id, "service_done_validated")
    payment = await dife.settle(dossier_id)
    assert payment["siret"] == organisme.siret and payment["settled_cents"] == payment["amount_cents"]
    paid = await dife.wait_status(dossier_id, "paid")
    assert paid["amount_paid_cents"] == payment["amount_cents"]
    assert _path(paid) == [
        "submitted",
        "validated",
        "accepted",
        "in_training",
        "completed",
        "service_done_declared",
        "service_done_validated",
        "paid",
    ]
    return payment


async def test_journey_5_a_reinsertion_training_after_the_mandate_with_cpf_and_card_is_paid_R_FUN_3(
    platform: Platform, dife: Dife
) -> None:
    """The élu's mandate ended on 6 April 2027 (R-END-1: rights usable for reinsertion until 6 October). A
    CPF-eligible training (R-OFR-2) ending on 6 October is accepted, one ending on the 7th refused. The
    plan of a September session: DIFE, CPF (R-FUN-3), card (R-FUN-4). After the service the fund pays the
    OF the whole price (= DIFE captured + CPF + card, R-PAY-2), the ledger captures the DIFE share, the plan
    closes consumed."""
    last_day, day_after = (date(2027, 10, 5), date(2027, 10, 6)), (date(2027, 10, 7), date(2027, 10, 7))
    elu, offer = await _former_elu_and_reinsertion_offer(dife, last_day, day_after)
    account = await dife.account(elu)
    assert (account["balance_cents"], account["reinsertion_until"]) == (CREDIT, "2027-10-06")
    [mandate] = (await dife.elu_record(elu))["mandates"]
    assert mandate["end_date"] == START.date().isoformat()

    on_the_last_day = await dife.submit(elu, offer, offer.session_ids[1])  # the window's last day counts
    await dife.refuse(offer.organisme.headers, on_the_last_day, "session complète")
    too_late = await dife.try_submit(elu, offer, offer.session_ids[2])
    assert too_late.status_code == 422, too_late.text
    assert [(r["id"], r["field"]) for r in too_late.json()["rules"]] == [("R-DOS-2", "mandate")]
    assert "6 months after the last mandate (2027-04-06)" in too_late.text

    dossier_id, cpf_reference = await _reinsertion_plan_ready(dife, elu, offer)
    payment = await _trained_and_paid(dife, offer, dossier_id, "14")
    assert payment["amount_cents"] == REINSERTION_PRICE

    await _balance_is_the_journal(dife, elu, balance_cents=0, held_cents=0)
    journal = await dife.movements(elu)
    assert _kinds(journal) == ["capture", "credit", "hold"]
    [capture] = [m for m in journal if m["kind"] == "capture"]
    assert (capture["amount_cents"], capture["dossier_id"]) == (CREDIT, dossier_id)
    assert payment["amount_cents"] == capture["amount_cents"] + CPF_SHARE + CARD_SHARE

    closed = await _plan_ends(
        dife, elu, dossier_id, ("dife", "consumed"), ("cpf", "consumed"), ("elu_card", "consumed")
    )
    assert [(line["source"], line["reference"]) for line in closed["lines"]][:2] == [
        ("dife", None),
        ("cpf", cpf_reference),
    ]
    assert (await _payout_event(platform, dossier_id, DifeCaptureRequested)).amount_cents == CREDIT
    assert (await _payout_event(platform, dossier_id, PaymentOrdered)).amount_cents == REINSERTION_PRICE
    assert await _dossier_events(platform, dossier_id, 8) == PAID_PATH_EVENTS
    assert await _dossier_events(platform, on_the_last_day, 2) == ["dossier_submitted", "dossier_refused"]


async def test_journey_5_a_reinsertion_at_70_percent_draws_dife_then_cpf_and_refunds_the_card_R_PAY_2(
    platform: Platform, dife: Dife
) -> None:
    """The same plan (DIFE 400 €, CPF 450 €, card 150 €) with 9.8 of 14 hours attended: 700 € are due
    (R-PAY-1), drawn in plan order (R-PAY-2): the whole DIFE captured, 300 € of the CPF, nothing of the card,
    whose 150 € payout refunds; the OF is paid DIFE + CPF drawn."""
    elu, offer = await _former_elu_and_reinsertion_offer(dife)
    dossier_id, _ = await _reinsertion_plan_ready(dife, elu, offer)
    payment = await _trained_and_paid(dife, offer, dossier_id, "9.8")
    assert (payment["amount_cents"], payment["realisation_percent"]) == (70_000, 70)

    await _balance_is_the_journal(dife, elu, balance_cents=0, held_cents=0)
    [capture] = [m for m in await dife.movements(elu) if m["kind"] == "capture"]
    assert capture["amount_cents"] == CREDIT
    assert payment["amount_cents"] == capture["amount_cents"] + 30_000  # the CPF's drawn part
    assert (await _payout_event(platform, dossier_id, DifeCaptureRequested)).amount_cents == CREDIT
    refund = await _payout_event(platform, dossier_id, RefundOrdered)
    assert (refund.amount_cents, str(refund.elu_id)) == (CARD_SHARE, elu.elu_id)
    # funding: the card line ends `released` (undrawn); its refund is payout's `refund_ordered` above
    await _plan_ends(
        dife, elu, dossier_id, ("dife", "consumed"), ("cpf", "consumed"), ("elu_card", "released")
    )
    assert await _dossier_events(platform, dossier_id, 8) == PAID_PATH_EVENTS


async def test_journey_6_a_control_rejecting_service_done_pays_nothing_and_gives_the_rights_back_R_DOS_4(
    platform: Platform, dife: Dife
) -> None:
    """An agent's control suspends the 5 working days' validation; its rejection cancels the dossier by the
    financer: nothing paid, the held rights come back (R-DOS-4, R-DOS-5)."""
    [elu], offer = await _fresh(dife)
    await dife.verified_bank_details(offer.organisme)
    dossier_id = await _accepted(dife, elu, offer)
    await dife.set_paris_day(SESSION_START)
    await dife.enter(offer.organisme, dossier_id, SESSION_START)
    await dife.set_paris_day(SESSION_END, hour=18)
    done = await dife.exit(offer.organisme, dossier_id, SESSION_END, "14")
    control = await dife.open_control(dossier_id, "fraud", "feuilles d'émargement douteuses")
    control_id = control.get("open_control_id") or control["id"]

    validation_day = date.fromisoformat(done["deadlines"]["auto_validation_on"])
    await dife.set_paris_day(validation_day + timedelta(days=2), hour=9)
    assert (await dife.dossier(dossier_id))["status"] == "service_done_declared"  # suspended by the control

    await dife.decide_control(str(control_id), "rejected", "présence non justifiée")
    cancelled = await dife.wait_status(dossier_id, "cancelled_by_financer")
    assert cancelled["amount_paid_cents"] == 0 and cancelled["rights_consumed"] in (False, None)
    await _balance_is_the_journal(dife, elu, balance_cents=CREDIT, held_cents=0, available_cents=CREDIT)
    assert _kinds(await dife.movements(elu)) == ["credit", "hold", "release"]
    await _plan_ends(dife, elu, dossier_id, ("dife", "released"))
    assert await dife.payment(dossier_id) is None
    assert (await _dossier_events(platform, dossier_id, 7))[-2:] == [
        "service_done_declared",
        "dossier_cancelled",
    ]
    assert not await dife.public_list(siret=offer.organisme.siret)


async def test_journey_7_a_sepa_rejection_is_paid_once_in_the_next_batch_after_the_iban_is_fixed_R_PAY_3(
    platform: Platform, dife: Dife
) -> None:
    """The bank rejects the transfer (pain.002 RJCT AC04): the payment waits; once the OF's new IBAN is
    verified (four eyes) it goes in the next batch with a new end-to-end id and is paid once."""
    [elu], offer = await _fresh(dife)
    organisme = offer.organisme
    await dife.verified_bank_details(organisme, IBANS[0])
    dossier_id, _ = await _through_service_done(dife, elu, offer, "14")

    first = await dife.send_payment(dossier_id)
    report = await dife.bank_report(first["batch_id"], [(first["end_to_end_id"], "RJCT", "AC04")])
    assert (report["accepted"], report["rejected"]) == (0, 1)
    rejected = await dife.wait_payment(dossier_id, "rejected")
    assert rejected["rejection_reason"] == "AC04"
    assert (await dife.dossier(dossier_id))["status"] == "service_done_validated"

    await dife.verified_bank_details(organisme, IBANS[1])
    second = await dife.send_payment(dossier_id)
    assert second["batch_id"] != first["batch_id"]
    assert second["end_to_end_id"] != first["end_to_end_id"] and second["attempts"] == 2
    pain001 = await dife.batch_file(second["batch_id"])
    assert IBANS[1] in pain001 and IBANS[0] not in pain001
    await dife.bank_report(second["batch_id"], [(second["end_to_end_id"], "ACSC", None)])
    settled = await dife.wait_payment(dossier_id, "settled")
    assert settled["settled_cents"] == settled["amount_cents"] == 35_000
    await dife.wait_status(dossier_id, "paid")

    again = await dife.bank_report(second["batch_id"], [(second["end_to_end_id"], "ACSC", None)])
    assert again["accepted"] == 0  # the same report twice changes nothing
    assert await _exactly_one_event(platform, topics.PAYOUT, "dife.payout.payment_settled.v1", dossier_id)
    assert await _dossier_events(platform, dossier_id, 8) == PAID_PATH_EVENTS  # waits for the 8 to be there
    assert len(await _dossier_events(platform, dossier_id, 9, timeout_s=5)) == 8  # and no second payment
    await _plan_ends(dife, elu, dossier_id, ("dife", "consumed"))
    await _balance_is_the_journal(dife, elu, balance_cents=CREDIT - 35_000, held_cents=0)


async def test_journey_8_contributions_declared_and_paid_and_trainings_paid_show_in_the_fund_position(
    platform: Platform, dife: Dife
) -> None:
    """A commune declares its élus' allowances for a quarter (1 %, R-CON-2) and pays; a training is paid; the
    fund position over the period shows both (contributions in, trainings paid)."""
    [elu], offer = await _fresh(dife)
    await dife.verified_bank_details(offer.organisme)
    april_may = (date(2027, 4, 1), date(2027, 5, 31))
    before = await dife.fund_position(*april_may)

    commune = await dife.register_collectivite(reference_annual_cents=200_000)  # 2,000 € a year: quarterly
    declared = await dife.declare(
        commune, "2027-Q1", [(f"2027-0{m}", 150_050, elu.elu_id) for m in (1, 2, 3)]
    )
    assert declared["contribution_cents"] == 3 * 1_501  # 1 % of 1,500.50 € is 15.005 €: half up, per line
    await dife.record_contribution_payment(commune, "2027-Q1", 4_503, date(2027, 4, 6))
    [quarter] = [p for p in (await dife.periods(commune, 2027))["periods"] if p["period"] == "2027-Q1"]
    assert (quarter["declared_cents"], quarter["paid_cents"], quarter["outstanding_cents"]) == (
        4_503,
        4_503,
        0,
    )

    dossier_id, _ = await _through_service_done(dife, elu, offer, "14")
    await dife.settle(dossier_id)

    async def both_counted() -> dict[str, Any] | None:
        after = await dife.fund_position(*april_may)
        moved = (
            after["period"]["contributions_received_cents"]
            - before["period"]["contributions_received_cents"],
            after["period"]["trainings_paid_cents"] - before["period"]["trainings_paid_cents"],
        )
        return after if moved == (4_503, 35_000) else None

    after = await dife.until("the fund position to count the contribution and the training", both_counted)
    assert after["period"]["balance_cents"] == (
        after["period"]["contributions_received_cents"] - after["period"]["trainings_paid_cents"]
    )
    wanted = (DeclarationReceived.ce_type, PaymentReceived.ce_type)
    found = await collect(
        platform.infra,
        platform.topic(topics.CONTRIBUTIONS),
        count=2,
        timeout_s=30,
        where=lambda e: e.subject == commune.siren and e.type in wanted,
    )
    by_type = {envelope.type: envelope.parse() for envelope in found}
    declaration, received = by_type[DeclarationReceived.ce_type], by_type[PaymentReceived.ce_type]
    assert isinstance(declaration, DeclarationReceived) and isinstance(received, PaymentReceived)
    assert (declaration.period, declaration.contribution_cents) == ("2027-Q1", 4_503)
    assert (received.period, received.amount_cents) == ("2027-Q1", 4_503)
    assert (await dife.wait_status(dossier_id, "paid"))["amount_paid_cents"] == 35_000
    await _balance_is_the_journal(dife, elu, balance_cents=CREDIT - 35_000, held_cents=0)


async def test_journey_9_an_integrator_reads_every_dossier_event_valid_and_in_order(
    platform: Platform, dife: Dife
) -> None:
    """A consumer group of its own reads `dife.dossier.events` from offset 0: every record is a binary-mode
    CloudEvent whose payload validates against the published JSON Schema of its type, and each dossier's
    events come in the order of its history."""
    [elu], offer = await _fresh(dife)
    mine = await dife.submit(elu, offer)  # at least one dossier of its own when run alone
    await dife.refuse(offer.organisme.headers, mine, "session complète")

    def mine_all_there(records: list[Any]) -> bool:
        return sum(r.key == mine.encode() for r in records) >= 2

    records = await read_from_start(
        platform.infra.kafka_bootstrap,
        platform.topic(topics.DOSSIER),
        group_prefix=platform.topic_prefix,
        until=mine_all_there,
    )
    schemas = published_schemas()
    by_dossier: dict[str, list[tuple[int, int, str]]] = {}
    for record in records:
        headers = {name: (value or b"").decode() for name, value in record.headers}
        assert headers["ce_specversion"] == "1.0"
        assert headers["ce_source"] == "/dife/dossier"
        assert headers["content-type"] == "application/json"
        assert uuid.UUID(headers["ce_id"]) and datetime.fromisoformat(
            headers["ce_time"].replace("Z", "+00:00")
        )
        assert headers["ce_subject"] == record.key.decode()
        event_type = headers["ce_type"]
        payload = json.loads(record.value)
        errors = sorted(schemas[event_type].iter_errors(payload), key=str)
        assert not errors, f"{event_type} at offset {record.offset}: {errors[0].message}"
        assert payload["dossier_id"] == headers["ce_subject"]
        by_dossier.setdefault(headers["ce_subject"], []).append((record.partition, record.offset, event_type))

    assert mine in by_dossier
    for dossier_id, seen in by_dossier.items():
        assert len({partition for partition, _, _ in seen}) == 1, f"{dossier_id} spread over partitions"
        in_order = [event_type for _, _, event_type in sorted(seen)]
        assert in_order[0] == "dife.dossier.dossier_submitted.v1", dossier_id
        known = await dife.dossier(dossier_id)  # every event on the bus comes from the dossier service
        history = [step["event_type"] for step in known["history"] if step["event_type"]]
        assert in_order == history, dossier_id
