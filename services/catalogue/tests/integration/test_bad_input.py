"""Bad input is a 4xx problem naming what is wrong, never a 500 (issue 8): NUL characters PostgreSQL cannot
store, integers beyond ``bigint``, numbers where a date or an integer is expected."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

NUL = "\u0000"


def refused(response: Any, field: str) -> None:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert field in [error["field"] for error in response.json()["errors"]], response.text


async def test_a_nul_character_in_an_organisme_name_is_refused(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    response = await catalogue.client.post(
        "/v1/organismes",
        json={"siret": siret(), "name": f"Institut{NUL}", "nda": "84691234569"},
        headers=catalogue.agent(),
    )
    refused(response, "body.name")


async def test_a_nul_character_in_an_agrement_reference_is_refused(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    code = siret()
    await catalogue.register(code)
    response = await catalogue.client.post(
        f"/v1/organismes/{code}/agrements",
        json={
            "reference": f"AGR{NUL}1",
            "decision_date": "2026-01-05",
            "valid_from": "2026-01-05",
            "valid_until": "2030-01-04",
        },
        headers=catalogue.agent(),
    )
    refused(response, "body.reference")


async def test_a_nul_character_in_an_offer_title_or_a_reason_is_refused(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    refused(await catalogue.create_offer(seller, title=f"Budget{NUL}communal"), "body.title")
    offer = await catalogue.offer(seller)
    withdrawn = await catalogue.client.post(
        f"/v1/offers/{offer['id']}/withdraw", json={"reason": NUL}, headers=catalogue.organisme(seller)
    )
    refused(withdrawn, "body.reason")


async def test_a_nul_character_in_the_search_text_is_refused(catalogue: Any) -> None:
    refused(await catalogue.client.get("/v1/offers", params={"q": f"budget{NUL}"}), "query.q")
    refused(await catalogue.client.get("/v1/offers", params={"theme": NUL}), "query.theme")


async def test_a_nul_character_in_a_siret_path_is_refused(catalogue: Any) -> None:
    refused(await catalogue.client.get("/v1/organismes/7328293200007%00"), "path")  # servicekit's guard


async def test_a_price_ceiling_beyond_bigint_is_refused(catalogue: Any) -> None:
    refused(
        await catalogue.client.get("/v1/offers", params={"max_price_cents": 2**63}), "query.max_price_cents"
    )
    largest = await catalogue.client.get("/v1/offers", params={"max_price_cents": 2**63 - 1})
    assert largest.status_code == 200, largest.text


async def test_a_capacity_is_a_json_integer_not_a_string_or_a_float(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    seller = await catalogue.accredited(siret())
    offer = await catalogue.offer(seller)
    for capacity in ("12", 12.0):
        response = await catalogue.client.post(
            f"/v1/offers/{offer['id']}/sessions",
            json={"start_date": "2027-03-15", "end_date": "2027-03-15", "capacity": capacity},
            headers=catalogue.organisme(seller),
        )
        refused(response, "body.capacity")


async def test_a_date_is_an_iso_string_not_a_number(catalogue: Any, siret: Callable[[], str]) -> None:
    code = siret()
    await catalogue.register(code)
    agrement = await catalogue.grant(code)
    response = await catalogue.client.post(
        f"/v1/organismes/{code}/agrements/{agrement['id']}/withdrawal",
        json={"date": 0, "reason": "retrait"},
        headers=catalogue.agent(),
    )
    refused(response, "body.date")
    offer = await catalogue.offer(await catalogue.accredited(siret()))
    session = await catalogue.client.post(
        f"/v1/offers/{offer['id']}/sessions",
        json={"start_date": 1_800_000_000, "end_date": "2027-03-15", "capacity": 12},
        headers=catalogue.organisme(offer["siret"]),
    )
    refused(session, "body.start_date")
