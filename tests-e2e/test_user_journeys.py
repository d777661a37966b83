"""The journeys of issue 13, each through the public REST APIs and the PSP webhook only, on the six running
services (`conftest.platform`), time moved with the services' test clock; every side is checked: the dossier
(status, history), the plan, the élu's ledger (balance, journal), the OF's payment and the events on Kafka.

Each journey starts at the platform's `START` day with élus and an organisme of its own, so journeys share one
platform and never see each other's data.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

from dife_contracts import topics
from driver import START, Dife, Elu, Offer, Organisme
from servicekit.testing import collect

if TYPE_CHECKING:
    from conftest import Platform

YEAR = START.year
CREDIT = 40_000
"""What the municipal campaign credits a year (R-ACC-1)."""
SESSION_START = date(2027, 4, 26)  # a Monday, 14 working days after START
SESSION_END = date(2027, 4, 27)


async def _fresh(
    dife: Dife, *, elus: int = 1, price_cents: int = 35_000, **offer: Any
) -> tuple[list[Elu], Offer]:
    """The clock at START; new élus credited for the year; an OF with an agrément and a published offer."""
    await dife.set_clock(START)
    registered = await dife.register_elus(elus, year=YEAR)
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


async def _dossier_events(platform: Platform, dossier_id: str, count: int) -> list[str]:
    found = await collect(
        platform.infra,
        platform.topic(topics.DOSSIER),
        count=count,
        timeout_s=30,
        where=lambda e: e.subject == dossier_id,
    )
    return [e.type.removeprefix("dife.dossier.").removesuffix(".v1") for e in found]


def _path(dossier: dict[str, Any]) -> list[str]:
    return [step["to_status"] for step in dossier["history"]]


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

    listed = await dife.public_list(siret=organisme.siret)
    assert [(item["cost_cents"], item["siret"]) for item in listed] == [(35_000, organisme.siret)]
    assert listed[0]["family_name"] == elu.person.family_name

    assert await _dossier_events(platform, dossier_id, 8) == [
        "dossier_submitted",
        "dossier_validated",
        "dossier_accepted",
        "training_started",
        "training_completed",
        "service_done_declared",
        "service_done_validated",
        "dossier_paid",
    ]
