"""Offers and sessions over HTTP: each rule answers 422 problem+json naming its id, edges on both sides;
the lifecycle, ownership, the events on Kafka and the database's own constraints."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import create_async_engine


def rule_ids(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [rule["id"] for rule in response.json()["rules"]]


async def test_exactly_80_euros_per_hour_is_accepted_R_OFR_3(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    response = await catalogue.create_offer(seller, hours="10.5", price_ht_cents=84_000)
    assert response.status_code == 201, response.text


async def test_one_cent_over_80_euros_per_hour_is_refused_R_OFR_3(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    response = await catalogue.create_offer(seller, hours="10.5", price_ht_cents=84_001)
    assert rule_ids(response) == ["R-OFR-3"]


async def test_patch_over_80_euros_per_hour_is_refused_R_OFR_3(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    offer = await catalogue.offer(seller)
    response = await catalogue.client.patch(
        f"/v1/offers/{offer['id']}", json={"hours": "3.5"}, headers=catalogue.organisme(seller)
    )
    assert rule_ids(response) == ["R-OFR-3"]
    response = await catalogue.client.patch(
        f"/v1/offers/{offer['id']}",
        json={"hours": "3.5", "price_ht_cents": 28_000},
        headers=catalogue.organisme(seller),
    )
    assert response.status_code == 200
    assert response.json()["hours"] == 3.5


async def test_exactly_15_seats_on_a_mandate_session_is_accepted_R_OFR_4(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    offer = await catalogue.offer(seller)
    response = await catalogue.add_session(offer["id"], seller, capacity=15)
    assert response.status_code == 201
    assert response.json()["seats_left"] == 15


async def test_16_seats_on_a_mandate_session_are_refused_R_OFR_4(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    offer = await catalogue.offer(seller)
    assert rule_ids(await catalogue.add_session(offer["id"], seller, capacity=16)) == ["R-OFR-4"]


async def test_reinsertion_session_may_have_more_than_15_seats_R_OFR_4(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    offer = await catalogue.offer(seller, kind="reinsertion", theme_code=None, certification_code="RNCP35185")
    assert (await catalogue.add_session(offer["id"], seller, capacity=30)).status_code == 201


async def test_session_outside_the_agrement_is_refused_R_OF_1(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = siret()
    await catalogue.register(seller)
    await catalogue.grant(seller, date(2025, 1, 1), date(2027, 3, 31))
    offer = await catalogue.offer(seller)
    inside = await catalogue.add_session(offer["id"], seller, start=date(2027, 3, 30), end=date(2027, 3, 31))
    assert inside.status_code == 201
    beyond = await catalogue.add_session(offer["id"], seller, start=date(2027, 3, 31), end=date(2027, 4, 1))
    assert rule_ids(beyond) == ["R-OF-1"]


async def test_an_of_without_agrement_cannot_schedule_a_mandate_session_R_OF_1(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = siret()
    await catalogue.register(seller)
    offer = await catalogue.offer(seller)
    assert rule_ids(await catalogue.add_session(offer["id"], seller)) == ["R-OF-1"]


async def test_publication_after_the_agrement_was_withdrawn_is_refused_R_OF_1(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = siret()
    await catalogue.register(seller)
    agrement = await catalogue.grant(seller)
    offer = await catalogue.offer(seller)
    assert (await catalogue.add_session(offer["id"], seller, start=date(2027, 3, 15))).status_code == 201
    await catalogue.client.post(
        f"/v1/organismes/{seller}/agrements/{agrement['id']}/withdrawal",
        json={"date": "2027-03-15", "reason": "retrait"},
        headers=catalogue.agent(),
    )
    refused = await catalogue.client.post(
        f"/v1/offers/{offer['id']}/publish", headers=catalogue.organisme(seller)
    )
    assert rule_ids(refused) == ["R-OF-1"]


async def test_unknown_theme_is_refused_R_OFR_1(catalogue: Any, siret: Callable[[], str]) -> None:
    seller = await catalogue.accredited(siret())
    assert rule_ids(await catalogue.create_offer(seller, theme_code="XYZ-42")) == ["R-OFR-1"]


@pytest.mark.parametrize("code", ["RNCP35185", "RS5487", "VAE", "BILAN-COMPETENCES", "PERMIS-B"])
async def test_cpf_eligible_reinsertion_training_is_accepted_R_OFR_2(
    catalogue: Any, siret: Callable[[], str], code: str
) -> None:
    seller = await catalogue.accredited(siret())
    response = await catalogue.create_offer(
        seller, kind="reinsertion", theme_code=None, certification_code=code
    )
    assert response.status_code == 201, response.text


async def test_reinsertion_training_without_cpf_certification_is_refused_R_OFR_2(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    response = await catalogue.create_offer(
        seller, kind="reinsertion", theme_code=None, certification_code="CQP-12"
    )
    assert rule_ids(response) == ["R-OFR-2"]


async def test_subcontracting_45_percent_to_an_accredited_of_is_accepted_R_OFR_5(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    partner = await catalogue.accredited(siret(), "Cabinet partenaire")
    response = await catalogue.create_offer(seller, subcontracting={"siret": partner, "share_percent": "45"})
    assert response.status_code == 201, response.text
    assert response.json()["subcontracting"] == {"siret": partner, "share_percent": "45.00"}


async def test_subcontracting_over_45_percent_is_refused_R_OFR_5(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    partner = await catalogue.accredited(siret(), "Cabinet partenaire")
    response = await catalogue.create_offer(
        seller, subcontracting={"siret": partner, "share_percent": "45.01"}
    )
    assert rule_ids(response) == ["R-OFR-5"]


async def test_subcontracting_to_an_of_without_agrement_is_refused_R_OFR_5(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    partner = siret()
    await catalogue.register(partner, "Sous-traitant sans agrément")
    response = await catalogue.create_offer(seller, subcontracting={"siret": partner, "share_percent": "20"})
    assert rule_ids(response) == ["R-OFR-5"]


async def test_every_broken_rule_is_listed_in_one_answer(catalogue: Any, siret: Callable[[], str]) -> None:
    seller = await catalogue.accredited(siret())
    response = await catalogue.create_offer(
        seller,
        theme_code="NOPE",
        hours="7",
        price_ht_cents=56_001,
        subcontracting={"siret": siret(), "share_percent": "50"},
    )
    assert rule_ids(response) == ["R-OFR-1", "R-OFR-3", "R-OFR-5", "R-OFR-5"]
    assert response.json()["type"].endswith("/rule-violation")


async def test_publication_needs_an_open_session_and_happens_once(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    offer = await catalogue.offer(seller)
    path = f"/v1/offers/{offer['id']}/publish"
    assert (await catalogue.client.post(path, headers=catalogue.organisme(seller))).status_code == 409
    await catalogue.add_session(offer["id"], seller)
    published = await catalogue.client.post(path, headers=catalogue.organisme(seller))
    assert published.status_code == 200
    assert published.json()["status"] == "published"
    assert (await catalogue.client.post(path, headers=catalogue.organisme(seller))).status_code == 409


async def test_offer_published_carries_the_full_snapshot_with_sessions(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    offer = await catalogue.published(seller, vat_rate="20")
    events = await catalogue.events(1, subject=offer["id"], ce_type="offer_published")
    snapshot = json.loads(events[0].data)
    assert snapshot["siret"] == seller
    assert snapshot["kind"] == "mandate"
    assert snapshot["price_ht_cents"] == 56_000
    assert snapshot["price_ttc_cents"] == 67_200
    assert snapshot["vat_rate_bp"] == 2000
    assert snapshot["location"]["department"] == "69"
    assert [s["session_id"] for s in snapshot["sessions"]] == [offer["sessions"][0]["id"]]


async def test_session_cancel_and_withdrawal_are_announced(catalogue: Any, siret: Callable[[], str]) -> None:
    seller = await catalogue.accredited(siret())
    offer = await catalogue.published(seller)
    headers = catalogue.organisme(seller)
    second = (await catalogue.add_session(offer["id"], seller, start=date(2027, 5, 10))).json()
    cancelled = await catalogue.client.post(
        f"/v1/offers/{offer['id']}/sessions/{second['id']}/cancel",
        json={"reason": "formateur malade"},
        headers=headers,
    )
    assert cancelled.status_code == 200
    assert cancelled.json()["status"] == "cancelled"
    again = await catalogue.client.post(
        f"/v1/offers/{offer['id']}/sessions/{second['id']}/cancel", headers=headers
    )
    assert again.status_code == 409
    withdrawn = await catalogue.client.post(
        f"/v1/offers/{offer['id']}/withdraw", json={"reason": "fin de l'offre"}, headers=headers
    )
    assert withdrawn.json()["status"] == "withdrawn"
    events = await catalogue.events(4, subject=offer["id"])
    assert [e.type.split(".")[2] for e in events] == [
        "offer_published",
        "offer_published",
        "session_cancelled",
        "offer_withdrawn",
    ]
    assert len(json.loads(events[1].data)["sessions"]) == 2
    edit = await catalogue.client.patch(
        f"/v1/offers/{offer['id']}", json={"title": "Nouveau titre"}, headers=headers
    )
    assert edit.status_code == 409


async def test_an_of_cannot_touch_another_ofs_offer(catalogue: Any, siret: Callable[[], str]) -> None:
    owner = await catalogue.accredited(siret())
    intruder = await catalogue.accredited(siret(), "Concurrent")
    offer = await catalogue.offer(owner)
    headers = catalogue.organisme(intruder)
    base = f"/v1/offers/{offer['id']}"
    assert (await catalogue.client.patch(base, json={"title": "Piraté"}, headers=headers)).status_code == 403
    assert (await catalogue.add_session(offer["id"], intruder)).status_code == 403
    assert (await catalogue.client.post(f"{base}/publish", headers=headers)).status_code == 403
    assert (await catalogue.client.post(f"{base}/withdraw", headers=headers)).status_code == 403
    stolen = await catalogue.client.post(
        "/v1/offers",
        json={"kind": "mandate", "title": "Au nom d'un autre", "theme_code": "FAL-03", "hours": "7",
              "price_ht_cents": 1000, "modality": "remote", "siret": owner},
        headers=headers,
    )  # fmt: skip
    assert stolen.status_code == 403
    elu = {"Authorization": f"Bearer {catalogue.token(sub=str(uuid.uuid4()), roles=['elu'])}"}
    assert (await catalogue.client.patch(base, json={"title": "x"}, headers=elu)).status_code == 403
    assert (await catalogue.client.patch(base, json={"title": "x"})).status_code == 401


async def test_a_draft_is_visible_only_to_its_organisme(catalogue: Any, siret: Callable[[], str]) -> None:
    owner = await catalogue.accredited(siret())
    offer = await catalogue.offer(owner)
    path = f"/v1/offers/{offer['id']}"
    assert (await catalogue.client.get(path)).status_code == 404
    assert (await catalogue.client.get(path, headers=catalogue.organisme(owner))).status_code == 200
    other = catalogue.organisme(siret())
    assert (await catalogue.client.get(path, headers=other)).status_code == 403


async def test_public_offer_shows_open_sessions_seats_and_quality(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    offer = await catalogue.published(seller)
    shown = (await catalogue.client.get(f"/v1/offers/{offer['id']}")).json()
    assert shown["sessions"][0]["seats_left"] == 12
    assert shown["quality"] == {"rating_count": 0, "rating_average": None}
    assert shown["organisme_name"] == "Institut de formation des élus"


async def test_the_database_refuses_what_the_rules_forbid(catalogue: Any, siret: Callable[[], str]) -> None:
    """R-OFR-3 and R-OFR-4 are CHECK constraints as well: no code path can store a broken offer."""
    seller = await catalogue.accredited(siret())
    offer = await catalogue.offer(seller)
    engine = create_async_engine(catalogue.settings.database_url)
    try:
        with pytest.raises(IntegrityError, match="R-OFR-3"):
            async with engine.begin() as connection:
                await connection.execute(
                    text("UPDATE offers SET price_ht_cents = 56001 WHERE id = :id"), {"id": offer["id"]}
                )
        with pytest.raises(IntegrityError, match="R-OFR-4"):
            async with engine.begin() as connection:
                await connection.execute(
                    text(
                        "INSERT INTO sessions "
                        "(id, offer_id, offer_kind, start_date, end_date, capacity, status) VALUES "
                        "(gen_random_uuid(), :id, 'mandate', '2027-01-01', '2027-01-01', 16, 'open')"
                    ),
                    {"id": offer["id"]},
                )
    finally:
        await engine.dispose()


async def test_an_of_lists_its_own_offers_drafts_included(catalogue: Any, siret: Callable[[], str]) -> None:
    owner = await catalogue.accredited(siret())
    created = [(await catalogue.offer(owner, title=f"Module {n} : finances locales"))["id"] for n in range(3)]
    await catalogue.client.post(f"/v1/offers/{created[1]}/withdraw", headers=catalogue.organisme(owner))
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await catalogue.client.get(
            f"/v1/organismes/{owner}/offers", params=params, headers=catalogue.organisme(owner)
        )
        assert page.status_code == 200, page.text
        seen.extend(item["id"] for item in page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert seen == created
    other = await catalogue.client.get(f"/v1/organismes/{owner}/offers", headers=catalogue.organisme(siret()))
    assert other.status_code == 403


async def test_withdrawn_agrement_stops_the_sale_of_the_sessions_it_covered_R_OF_1(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = siret()
    await catalogue.register(seller)
    agrement = await catalogue.grant(seller)
    kept = await catalogue.published(seller, start=date(2027, 3, 15))
    later = (await catalogue.add_session(kept["id"], seller, start=date(2027, 9, 1))).json()
    gone = await catalogue.published(seller, start=date(2027, 10, 4))
    withdrawn = await catalogue.client.post(
        f"/v1/organismes/{seller}/agrements/{agrement['id']}/withdrawal",
        json={"date": "2027-06-01", "reason": "retrait ministériel"},
        headers=catalogue.agent(),
    )
    assert withdrawn.status_code == 200
    still = (await catalogue.client.get(f"/v1/offers/{kept['id']}")).json()
    assert still["status"] == "published"
    assert [s["id"] for s in still["sessions"]] == [kept["sessions"][0]["id"]]
    assert (await catalogue.client.get(f"/v1/offers/{gone['id']}")).json()["status"] == "withdrawn"
    cancelled = await catalogue.events(1, subject=kept["id"], ce_type="session_cancelled")
    assert json.loads(cancelled[0].data)["session_id"] == later["id"]
    assert await catalogue.events(1, subject=gone["id"], ce_type="offer_withdrawn")
    found = (await catalogue.client.get("/v1/offers", params={"organisme": seller})).json()
    assert [item["id"] for item in found["items"]] == [kept["id"]]


async def test_ops_alone_cannot_read_an_organismes_draft(catalogue: Any, siret: Callable[[], str]) -> None:
    """``ops`` is no organisme: the staff pass of ``ops`` does not open drafts (issue 8)."""
    owner = await catalogue.accredited(siret())
    offer = await catalogue.offer(owner)
    ops = {"Authorization": f"Bearer {catalogue.token(sub=str(uuid.uuid4()), roles=['ops'])}"}
    assert (await catalogue.client.get(f"/v1/offers/{offer['id']}", headers=ops)).status_code == 403


async def test_an_organisme_that_also_holds_ops_acts_only_on_its_own_offers(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    """Ownership comes from the role granting access (organisme), not from the union of the token's roles."""
    owner = await catalogue.accredited(siret())
    intruder = await catalogue.accredited(siret(), "Concurrent")
    offer = await catalogue.offer(owner)
    token = catalogue.token(sub=intruder, roles=["organisme", "ops"], siret=intruder)
    headers = {"Authorization": f"Bearer {token}"}
    base = f"/v1/offers/{offer['id']}"
    assert (await catalogue.client.get(base, headers=headers)).status_code == 403
    assert (await catalogue.client.patch(base, json={"title": "Piraté"}, headers=headers)).status_code == 403
    assert (await catalogue.client.post(f"{base}/publish", headers=headers)).status_code == 403
    assert (await catalogue.client.post(f"{base}/withdraw", headers=headers)).status_code == 403
    listed = await catalogue.client.get(f"/v1/organismes/{owner}/offers", headers=headers)
    assert listed.status_code == 403
    own = await catalogue.client.get(f"/v1/organismes/{intruder}/offers", headers=headers)
    assert own.status_code == 200


async def test_hours_are_a_json_number(catalogue: Any, siret: Callable[[], str]) -> None:
    """``hours`` is a number in every answer: ``7`` and ``10.5``, not the strings ``"7.00"``, ``"10.50"``."""
    seller = await catalogue.accredited(siret())
    created = await catalogue.offer(seller, hours=7)
    assert created["hours"] == 7 and isinstance(created["hours"], int | float)
    published = await catalogue.published(seller, hours="10.5", price_ht_cents=84_000)
    shown = (await catalogue.client.get(f"/v1/offers/{published['id']}")).json()
    assert shown["hours"] == 10.5
    found = (await catalogue.client.get("/v1/offers", params={"organisme": seller})).json()
    assert [item["hours"] for item in found["items"]] == [10.5]


async def test_an_idempotency_key_belongs_to_the_whole_caller_not_only_its_sub(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    """The same ``sub`` acting for another SIRET with the same key gets its own offer, not the first one's."""
    first, second = await catalogue.accredited(siret()), await catalogue.accredited(siret(), "Second OF")
    sub = str(uuid.uuid4())
    answers = []
    for seller in (first, second):
        token = catalogue.token(sub=sub, roles=["organisme"], siret=seller)
        response = await catalogue.client.post(
            "/v1/offers",
            json={"kind": "mandate", "title": "Finances locales", "theme_code": "FAL-03", "hours": 7,
                  "price_ht_cents": 56_000, "modality": "remote"},
            headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "offre-1"},
        )  # fmt: skip
        assert response.status_code == 201, response.text
        answers.append(response.json()["siret"])
    assert answers == [first, second]
