"""Registering collectivités, one by one and from a CSV list (R-CON-1)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


async def test_an_agent_imports_a_csv_list_good_rows_load_bad_rows_are_reported_R_CON_1(
    contributions: Any, siren: Callable[[], str]
) -> None:
    commune, syndicat = siren(), siren()
    listing = (
        "siren;nom;type;cotisation_annuelle_cents\n"
        f"{commune};Commune A;commune;400000\n"
        "123456789;Mauvais SIREN;commune;\n"
        f"{syndicat};Syndicat des eaux;syndicat;\n"
    )
    headers = {**contributions.agent(), "Content-Type": "text/csv"}
    response = await contributions.client.post(
        "/v1/collectivites/import", content=listing.encode(), headers=headers
    )
    assert response.status_code == 200, response.text
    assert response.json()["loaded"] == 2
    assert response.json()["problems"][0]["line"] == 3
    read = await contributions.client.get(f"/v1/collectivites/{syndicat}", headers=contributions.agent())
    assert (read.json()["type"], read.json()["subject"]) == ("syndicat", False)
    no_periods = await contributions.client.get(
        f"/v1/collectivites/{syndicat}/periods", headers=contributions.agent()
    )
    assert no_periods.json()["periods"] == []
    calendar = await contributions.client.get(
        f"/v1/collectivites/{commune}/periods", headers=contributions.agent()
    )
    assert calendar.json()["periodicity"] == "monthly"
    as_commune = {**contributions.collectivite(commune), "Content-Type": "text/csv"}
    forbidden = await contributions.client.post(
        "/v1/collectivites/import", content=listing.encode(), headers=as_commune
    )
    assert forbidden.status_code == 403


async def test_a_siren_with_a_wrong_key_is_refused_and_a_duplicate_conflicts(
    contributions: Any, siren: Callable[[], str]
) -> None:
    bad = await contributions.client.post(
        "/v1/collectivites",
        json={"siren": "123456789", "name": "X", "type": "commune"},
        headers=contributions.agent(),
    )
    assert bad.status_code == 422 and "SIREN" in bad.text
    commune = siren()
    await contributions.register(commune)
    again = await contributions.client.post(
        "/v1/collectivites",
        json={"siren": commune, "name": "X", "type": "commune"},
        headers=contributions.agent(),
    )
    assert again.status_code == 409
    unknown_type = await contributions.client.post(
        "/v1/collectivites",
        json={"siren": siren(), "name": "X", "type": "club"},
        headers=contributions.agent(),
    )
    assert unknown_type.status_code == 422
    huge = await contributions.client.post(
        "/v1/collectivites",
        json={"siren": siren(), "name": "X", "type": "commune", "reference_annual_cents": 10**30},
        headers=contributions.agent(),
    )
    assert huge.status_code == 422
    unknown = await contributions.client.get(f"/v1/collectivites/{siren()}", headers=contributions.agent())
    assert unknown.status_code == 404


async def test_the_openapi_document_and_the_late_sweep_job_are_served(contributions: Any) -> None:
    spec = await contributions.client.get("/openapi.json")
    assert spec.status_code == 200
    body = spec.json()
    assert "DeclarationIn" in body["components"]["schemas"]
    assert "/v1/bank-statements" in body["paths"]
    jobs = await contributions.client.get(
        "/v1/jobs", params={"kind": "contributions.late_sweep"}, headers=contributions.ops()
    )
    assert jobs.status_code == 200, jobs.text
    assert [job["status"] for job in jobs.json()["items"]] == ["pending"]
