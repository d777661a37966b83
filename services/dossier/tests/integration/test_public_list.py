"""R-PUB-1: the public list of financed trainings exposes exactly the élu's name, the cost, the subject, the
organisation and the dates: JSON and CSV, no token."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable
from typing import Any

from dife_contracts.events import EluRegistered

from .conftest import Running

PUBLIC_FIELDS = {
    "family_name",
    "given_names",
    "cost_cents",
    "title",
    "theme_code",
    "organisme_name",
    "siret",
    "start_date",
    "end_date",
}


async def _accepted(app: Running, of: str, **offer: Any) -> tuple[uuid.UUID, dict[str, Any]]:
    elu_id = await app.elu_with_account()
    dossier = await app.submitted(elu_id, *await app.offer(of, **offer))
    await app.plan_ready(await app.post(f"/v1/dossiers/{dossier['id']}/validation", app.organisme(of)))
    return elu_id, await app.post(f"/v1/dossiers/{dossier['id']}/acceptance", app.elu(elu_id))


async def test_the_public_list_shows_exactly_the_r_pub_1_fields_of_financed_trainings_R_PUB_1(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    elu_id, accepted = await _accepted(app, of)
    not_financed = await app.submitted(await app.elu_with_account(), *await app.offer(of))

    response = await app.client.get(f"/v1/public/financed-trainings?siret={of}")
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == 1
    assert set(items[0]) == PUBLIC_FIELDS
    assert items[0] == {
        "family_name": "Martin",
        "given_names": "Claire",
        "cost_cents": 56_000,
        "title": "Finances locales : construire et voter le budget",
        "theme_code": "FAL-03",
        "organisme_name": f"Institut {of[-4:]}",
        "siret": of,
        "start_date": "2027-03-15",
        "end_date": "2027-03-15",
    }
    text = response.text
    for secret in (str(elu_id), accepted["id"], not_financed["id"], "history", "status"):
        assert secret not in text


async def test_the_public_list_filters_by_year_department_and_siret_and_pages_R_PUB_1(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    for _ in range(3):
        await _accepted(app, of, department="2A")
    page = await app.client.get(f"/v1/public/financed-trainings?siret={of}&department=2A&year=2027&limit=2")
    assert len(page.json()["items"]) == 2 and page.json()["next_cursor"]
    rest = await app.client.get(
        f"/v1/public/financed-trainings?siret={of}&department=2A&year=2027&limit=2&cursor={page.json()['next_cursor']}"
    )
    assert len(rest.json()["items"]) == 1 and rest.json()["next_cursor"] is None
    other_year = await app.client.get(f"/v1/public/financed-trainings?siret={of}&year=2026")
    assert other_year.json()["items"] == []
    assert (await app.client.get("/v1/public/financed-trainings?department=ZZ")).status_code == 422


async def test_the_public_list_as_csv_has_the_same_fields_and_neutralises_formulas_R_PUB_1(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    elu_id, _ = await _accepted(app, of)
    await app.feed(
        EluRegistered(elu_id=elu_id, family_name='=HYPERLINK("http://evil")', given_names="@Bob", mandates=[])
    )

    by_accept = await app.client.get(
        f"/v1/public/financed-trainings?siret={of}", headers={"Accept": "text/csv"}
    )
    by_suffix = await app.client.get(f"/v1/public/financed-trainings.csv?siret={of}")
    for response in (by_accept, by_suffix):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert len(rows) == 1
        assert set(rows[0]) == PUBLIC_FIELDS
        assert rows[0]["family_name"] == '\'=HYPERLINK("http://evil")'
        assert rows[0]["given_names"] == "'@Bob"
        assert rows[0]["cost_cents"] == "56000"
