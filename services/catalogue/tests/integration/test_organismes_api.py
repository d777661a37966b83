"""Organismes and agréments over HTTP (R-OF-1): agents only, history kept, events on Kafka."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from servicekit.clock import MovableClock


async def test_agent_registers_an_organisme_and_it_is_announced(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    code = siret()
    organisme = await catalogue.register(code, "Institut des élus du Rhône")
    assert organisme["siret"] == code
    assert organisme["accredited_today"] is False
    fetched = await catalogue.client.get(f"/v1/organismes/{code}")
    assert fetched.status_code == 200
    assert fetched.json()["name"] == "Institut des élus du Rhône"
    events = await catalogue.events(1, subject=code)
    assert [e.type for e in events] == ["dife.catalogue.organisme_registered.v1"]
    assert json.loads(events[0].data)["nda"] == "84691234569"


async def test_siret_with_a_wrong_luhn_key_is_refused(catalogue: Any) -> None:
    response = await catalogue.client.post(
        "/v1/organismes",
        json={"siret": "73282932000075", "name": "Mauvais SIRET", "nda": "84691234569"},
        headers=catalogue.agent(),
    )
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["errors"][0]["field"] == "body.siret"


async def test_an_organisme_is_registered_once(catalogue: Any, siret: Callable[[], str]) -> None:
    code = siret()
    await catalogue.register(code)
    again = await catalogue.client.post(
        "/v1/organismes",
        json={"siret": code, "name": "Doublon", "nda": "84691234569"},
        headers=catalogue.agent(),
    )
    assert again.status_code == 409


async def test_idempotency_key_replays_the_first_answer(catalogue: Any, siret: Callable[[], str]) -> None:
    body = {"siret": siret(), "name": "Centre de formation", "nda": "84691234569"}
    headers = {**catalogue.agent(), "Idempotency-Key": "register-1"}
    first = await catalogue.client.post("/v1/organismes", json=body, headers=headers)
    second = await catalogue.client.post("/v1/organismes", json=body, headers=headers)
    assert first.status_code == second.status_code == 201
    assert first.json() == second.json()


async def test_only_agents_manage_organismes_and_agrements(catalogue: Any, siret: Callable[[], str]) -> None:
    code = siret()
    await catalogue.register(code)
    agrement = {"reference": "AGR-1", "decision_date": "2026-01-05", "valid_from": "2026-01-05",
                "valid_until": "2030-01-04"}  # fmt: skip
    own = catalogue.organisme(code)
    assert (
        await catalogue.client.post(f"/v1/organismes/{code}/agrements", json=agrement, headers=own)
    ).status_code == 403
    assert (await catalogue.client.post(f"/v1/organismes/{code}/agrements", json=agrement)).status_code == 401
    registering = {"siret": siret(), "name": "Autre", "nda": "84691234569"}
    assert (await catalogue.client.post("/v1/organismes", json=registering, headers=own)).status_code == 403
    granted = await catalogue.client.post(
        f"/v1/organismes/{code}/agrements", json=agrement, headers=catalogue.agent()
    )
    assert granted.status_code == 201
    withdrawal = {"date": "2027-06-01", "reason": "retrait ministériel"}
    path = f"/v1/organismes/{code}/agrements/{granted.json()['id']}/withdrawal"
    assert (await catalogue.client.post(path, json=withdrawal, headers=own)).status_code == 403


async def test_agrement_history_is_kept_through_renewal_and_withdrawal_R_OF_1(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    code = siret()
    await catalogue.register(code)
    first = await catalogue.grant(code)
    path = f"/v1/organismes/{code}/agrements/{first['id']}/withdrawal"
    withdrawn = await catalogue.client.post(
        path, json={"date": "2026-06-01", "reason": "manquements constatés"}, headers=catalogue.agent()
    )
    assert withdrawn.status_code == 200
    assert withdrawn.json()["withdrawn_on"] == "2026-06-01"
    again = await catalogue.client.post(
        path, json={"date": "2026-07-01", "reason": "x"}, headers=catalogue.agent()
    )
    assert again.status_code == 409
    renewal = await catalogue.grant(code)
    history = (await catalogue.client.get(f"/v1/organismes/{code}")).json()["agrements"]
    assert {a["id"] for a in history} == {first["id"], renewal["id"]}
    events = await catalogue.events(4, subject=code)
    assert [json.loads(e.data).get("status") for e in events] == [None, "granted", "withdrawn", "renewed"]


async def test_agrement_dates_out_of_order_are_refused(catalogue: Any, siret: Callable[[], str]) -> None:
    code = siret()
    await catalogue.register(code)
    response = await catalogue.client.post(
        f"/v1/organismes/{code}/agrements",
        json={
            "reference": "A",
            "decision_date": "2026-01-01",
            "valid_from": "2026-02-01",
            "valid_until": "2026-01-01",
        },
        headers=catalogue.agent(),
    )
    assert response.status_code == 422


async def test_themes_are_the_repertoire_R_OFR_1(catalogue: Any) -> None:
    themes = (await catalogue.client.get("/v1/themes")).json()
    assert {t["family"] for t in themes} == {"FAL", "CCO", "EPE"}
    assert any(t["label"] == "Statut et rôle de l'élu local" for t in themes)


async def test_accredited_today_follows_the_paris_date_of_the_apps_clock_R_OF_1(
    start_catalogue: Callable[..., Any], siret: Callable[[], str]
) -> None:
    """The last day of an agrément is a Paris day: at 23:30 in Paris it still holds; at 00:30 the next day
    (23:30 UTC, still the last day in UTC) it no longer does."""
    clock = MovableClock()
    clock.set_paris(date(2030, 12, 31), hour=23, minute=30)
    async with start_catalogue(clock=clock) as catalogue:
        code = siret()
        await catalogue.register(code)
        await catalogue.grant(code, date(2025, 1, 1), date(2030, 12, 31))
        shown = (await catalogue.client.get(f"/v1/organismes/{code}")).json()
        assert shown["accredited_today"] is True
        clock.advance(timedelta(hours=1))
        assert clock.now().date() == date(2030, 12, 31)  # UTC
        shown = (await catalogue.client.get(f"/v1/organismes/{code}")).json()
        assert shown["accredited_today"] is False
