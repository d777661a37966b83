"""R-ACT-1, homonyms: the same names and birth date in two communes of a municipal snapshot are two persons
(nobody sits on two municipal councils): two élus, two accounts, two credits; activation asks which."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import (
    CD_HEADER,
    CM_HEADER,
    DUPONT_CLAIMS,
    DUPONT_NIR,
    cd_row,
    cm_row,
    csv_file,
    import_rne,
    run_campaign,
)

Bearer = Callable[..., dict[str, str]]
TWO_DUPONTS = csv_file(
    CM_HEADER,
    cm_row("DUPONT", "Élise", "05/03/1961", commune="1001"),
    cm_row("DUPONT", "Élise", "05/03/1961", commune="1002", function="Maire"),
)


async def _duponts(client: httpx.AsyncClient, agent: dict[str, str]) -> list[dict[str, object]]:
    params = {"family_name": "Dupont", "given_names": "Elise", "birth_date": date(1961, 3, 5).isoformat()}
    response = await client.get("/v1/elus", params=params, headers=agent)
    return list(response.json()["items"])


async def test_one_identity_in_two_communes_is_two_elus_each_credited_once_R_ACT_1(
    client: httpx.AsyncClient, agent: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    first = await import_rne(client, agent, TWO_DUPONTS)
    assert (first["report"]["elus_created"], first["report"]["mandates_created"]) == (2, 2)
    duponts = await _duponts(client, agent)
    assert sorted(e["mandates"][0]["collectivite_code"] for e in duponts) == ["01001", "01002"]  # type: ignore[index]
    again = await import_rne(client, agent, TWO_DUPONTS, snapshot="2026-02-15")
    assert (again["report"]["elus_created"], again["report"]["mandates_ended"]) == (0, 0)
    campaign = await run_campaign(client, agent, "municipal", 2026)
    assert (campaign["report"]["credited"], campaign["report"]["total_cents"]) == (2, 80_000)


async def test_a_known_elu_keeps_its_account_when_a_homonym_appears_in_another_commune_R_ACT_1(
    client: httpx.AsyncClient, agent: dict[str, str]
) -> None:
    await import_rne(
        client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961", commune="1001"))
    )
    [known] = await _duponts(client, agent)
    later = await import_rne(client, agent, TWO_DUPONTS, snapshot="2026-02-15")
    assert (later["report"]["elus_created"], later["report"]["mandates_ended"]) == (1, 0)
    by_commune = {e["mandates"][0]["collectivite_code"]: e["elu_id"] for e in await _duponts(client, agent)}  # type: ignore[index]
    assert by_commune["01001"] == known["elu_id"]


async def test_activation_of_an_ambiguous_identity_asks_for_the_commune_then_accepts_it_R_ACT_1(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Bearer
) -> None:
    await import_rne(client, agent, TWO_DUPONTS)
    headers = bearer("elu", sub="fc-dupont-1002", **DUPONT_CLAIMS)
    ambiguous = await client.post("/v1/accounts/activation", json={"nir": DUPONT_NIR}, headers=headers)
    assert ambiguous.status_code == 422
    [rule] = ambiguous.json()["rules"]
    assert (rule["id"], rule["field"]) == ("R-ACT-1", "commune_code")
    assert "2 élus share this identity" in rule["detail"]
    wrong = await client.post(
        "/v1/accounts/activation", json={"nir": DUPONT_NIR, "commune_code": "1003"}, headers=headers
    )
    assert wrong.status_code == 422
    told = await client.post(
        "/v1/accounts/activation", json={"nir": DUPONT_NIR, "commune_code": "1002"}, headers=headers
    )
    assert told.status_code == 200, told.text
    elu = (await client.get(f"/v1/elus/{told.json()['elu_id']}", headers=agent)).json()
    assert (elu["mandates"][0]["collectivite_code"], elu["mandates"][0]["function"]) == ("01002", "Maire")


async def test_a_departmental_line_of_an_ambiguous_identity_is_rejected_and_ends_nothing_R_ACT_1(
    client: httpx.AsyncClient, agent: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await import_rne(client, agent, TWO_DUPONTS)
    job = await import_rne(
        client,
        agent,
        csv_file(CD_HEADER, cd_row("DUPONT", "Élise", "05/03/1961"), cd_row("BLANC", "Luc", "03/03/1973")),
        file_type="cd",
    )
    report = job["report"]
    assert (report["rows_read"], report["rows_loaded"], report["rows_rejected"]) == (2, 1, 1)
    assert report["rejected"][0]["line"] == 2 and "homonyms" in report["rejected"][0]["reason"]
    async with sessionmaker() as session:
        departmental = await session.scalar(text("SELECT count(*) FROM mandates WHERE file_type = 'cd'"))
    assert departmental == 1
