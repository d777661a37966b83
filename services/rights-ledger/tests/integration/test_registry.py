"""R-REG-1 / R-REG-2 on the real database and Kafka: RNE import as a snapshot, with its report and events."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import httpx
from dife_contracts.events import EluMandatesChanged, EluRegistered
from rights_ledger.settings import Settings
from servicekit.testing import Infra, collect

from .conftest import CM_HEADER, cm_row, csv_file, find_elu, import_rne


async def test_import_creates_elus_and_mandates_and_reports_bad_lines_R_REG_1_R_REG_2(
    client: httpx.AsyncClient, agent: dict[str, str], settings: Settings, infra: Infra
) -> None:
    body = csv_file(
        CM_HEADER,
        cm_row("DUPONT", "Élise", "05/03/1961", function="Maire"),
        cm_row("Dupont", "Elise", "1961-03-05", function="Conseiller communautaire"),
        cm_row("MARTIN", "Jean-Paul", "31/02/1960"),
        cm_row("LÉGER", "Hélène", "01/01/1970", commune="2004", start="2020-05-18"),
    )
    job = await import_rne(client, agent, body)
    assert job["status"] == "succeeded", job
    report = job["report"]
    assert (report["rows_read"], report["elus_created"], report["mandates_created"]) == (4, 2, 2)
    assert report["rejected"] == [{"line": 4, "reason": report["rejected"][0]["reason"]}]
    assert "birth date" in report["rejected"][0]["reason"]
    assert (job["rows_done"], job["rows_total"]) == (4, 4)

    elu = await find_elu(client, agent, "dupont", "ELISE", date(1961, 3, 5))
    [mandate] = elu["mandates"]
    assert mandate["collectivite_code"] == "01001"
    assert mandate["function"] == "Conseiller communautaire ; Maire"
    assert mandate["family"] == "municipal"

    registered = await collect(
        infra,
        settings.topic("dife.ledger.events"),
        count=1,
        where=lambda e: e.type == "dife.ledger.elu_registered.v1" and e.subject == elu["elu_id"],
    )
    parsed = [e.parse() for e in registered]
    assert isinstance(parsed[0], EluRegistered)
    assert (parsed[0].family_name, parsed[0].mandates[0].collectivite_code) == ("DUPONT", "01001")


async def test_a_mandate_absent_from_the_next_snapshot_ends_at_its_date_R_REG_2(
    client: httpx.AsyncClient, agent: dict[str, str], settings: Settings, infra: Infra
) -> None:
    first = csv_file(CM_HEADER, cm_row("ROUX", "Anne", "02/02/1972"), cm_row("BLANC", "Luc", "03/03/1973"))
    assert (await import_rne(client, agent, first))["report"]["elus_created"] == 2
    second = csv_file(CM_HEADER, cm_row("ROUX", "Anne", "02/02/1972"))
    job = await import_rne(client, agent, second, snapshot="2026-03-22")
    assert (job["report"]["mandates_ended"], job["report"]["elus_created"]) == (1, 0)
    luc = await find_elu(client, agent, "Blanc", "Luc", date(1973, 3, 3))
    assert luc["mandates"][0]["end_date"] == "2026-03-22"
    again = await import_rne(client, agent, second, snapshot="2026-03-22")
    assert (again["report"]["mandates_ended"], again["report"]["mandates_created"]) == (0, 0)

    [changed] = await collect(
        infra,
        settings.topic("dife.ledger.events"),
        count=1,
        where=lambda e: e.type == "dife.ledger.elu_mandates_changed.v1" and e.subject == luc["elu_id"],
    )
    event = changed.parse()
    assert isinstance(event, EluMandatesChanged)
    assert (event.last_mandate_end, event.snapshot_date) == (date(2026, 3, 22), date(2026, 3, 22))
    assert event.mandates[0].end_date == date(2026, 3, 22)


async def test_a_file_without_a_readable_row_changes_nothing_R_REG_1(
    client: httpx.AsyncClient, agent: dict[str, str]
) -> None:
    assert (await import_rne(client, agent, csv_file(CM_HEADER, cm_row("ROUX", "Anne", "02/02/1972"))))[
        "status"
    ] == "succeeded"
    job = await import_rne(client, agent, csv_file(CM_HEADER, cm_row("X", "Y", "not a date")))
    assert job["status"] == "failed"
    assert "R-REG-1" in job["error"]
    bad_header = await import_rne(client, agent, b"a;b\n1;2\n")
    assert bad_header["status"] == "failed"
    assert "lacks the columns" in bad_header["error"]


async def test_imports_need_the_agent_role_R_REG_1(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    response = await client.post(
        "/v1/registry/imports?file_type=cm&snapshot_date=2026-01-01",
        content=b"x",
        headers=bearer("elu"),
    )
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_import_jobs_are_read_by_agents_only_R_REG_1(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Callable[..., dict[str, str]]
) -> None:
    job = await import_rne(client, agent, csv_file(CM_HEADER, cm_row("ROUX", "Anne", "02/02/1972")))
    for path in (f"/v1/registry/imports/{job['id']}", f"/v1/jobs/{job['id']}", "/v1/jobs"):
        assert (await client.get(path)).status_code == 401, path
        assert (await client.get(path, headers=bearer("elu"))).status_code == 403, path
        assert (await client.get(path, params={"principal": "x"})).status_code == 401, path
        assert (await client.get(path, headers=agent)).status_code == 200, path
