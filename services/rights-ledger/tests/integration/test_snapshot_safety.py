"""An RNE snapshot ends whoever it misses (R-REG-2): a damaged or truncated file must not end the mandates of
people still in office. Every line is accounted for; the settings' default limits refuse unless forced."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from rights_ledger.app import create_app
from rights_ledger.settings import Settings
from servicekit.clock import MovableClock
from servicekit.testing import running_app
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import CM_HEADER, cm_row, csv_file, import_rne, wait_job

DEFAULTS = {
    name: Settings.model_fields[name].default
    for name in ("import_max_rejected_share", "import_max_ended_share")
}


@pytest.fixture
async def strict(settings: Settings, clock: MovableClock) -> AsyncIterator[httpx.AsyncClient]:
    """The app with the production limits: 2 % rejected lines, 10 % of open mandates ended."""
    async with running_app(create_app(settings.model_copy(update=DEFAULTS), clock=clock)) as http:
        yield http


def _rows(count: int, birth: str = "01/01/1960") -> list[str]:
    return [cm_row(f"NOM{n}", "Jean", birth, commune=str(1000 + n)) for n in range(count)]


async def _open_mandates(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(text("SELECT count(*) FROM mandates WHERE end_date IS NULL")) or 0)


async def test_a_file_with_99_bad_dates_of_100_is_refused_and_ends_nothing_unless_forced_R_REG_1(
    strict: httpx.AsyncClient, agent: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    assert (await import_rne(strict, agent, csv_file(CM_HEADER, *_rows(100))))["status"] == "succeeded"
    damaged = [_rows(1)[0], *(row.replace("01/01/1960", "31/02/1960") for row in _rows(100)[1:])]
    refused = await import_rne(strict, agent, csv_file(CM_HEADER, *damaged), snapshot="2026-02-15")
    assert refused["status"] == "failed"
    assert refused["error"].startswith("R-REG-1: 99 of 100 lines are rejected")
    assert (refused["report"]["rows_read"], refused["report"]["rows_rejected"]) == (100, 99)
    assert await _open_mandates(sessionmaker) == 100
    async with sessionmaker() as session:
        payload = await session.scalar(
            text("SELECT payload FROM kit_jobs WHERE job_id = :id"), {"id": refused["id"]}
        )
    assert payload is None

    forced = await import_rne(strict, agent, csv_file(CM_HEADER, *damaged), snapshot="2026-02-15", force=True)
    assert (forced["status"], forced["report"]["mandates_ended"], forced["report"]["forced"]) == (
        "succeeded",
        99,
        True,
    )


async def test_a_snapshot_ending_more_than_10_percent_of_open_mandates_is_refused_10_percent_is_not_R_REG_2(
    strict: httpx.AsyncClient, agent: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    rows = _rows(10)
    await import_rne(strict, agent, csv_file(CM_HEADER, *rows))
    two_missing = await import_rne(strict, agent, csv_file(CM_HEADER, *rows[:8]), snapshot="2026-02-15")
    assert two_missing["status"] == "failed"
    assert two_missing["error"].startswith("R-REG-2: the snapshot would end 2 of the 10 open cm mandates")
    assert await _open_mandates(sessionmaker) == 10
    one_missing = await import_rne(strict, agent, csv_file(CM_HEADER, *rows[:9]), snapshot="2026-02-15")
    assert (one_missing["status"], one_missing["report"]["mandates_ended"]) == ("succeeded", 1)


async def test_a_dry_run_reports_what_would_change_and_changes_nothing_R_REG_2(
    client: httpx.AsyncClient, agent: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    rows = _rows(3)
    await import_rne(client, agent, csv_file(CM_HEADER, *rows))
    newcomer = cm_row("NEUF", "Anne", "02/02/1972", commune="2000")
    dry = await import_rne(
        client, agent, csv_file(CM_HEADER, rows[0], newcomer, "bad;line"), snapshot="2026-02-15", dry_run=True
    )
    report = dry["report"]
    assert (dry["status"], report["dry_run"]) == ("succeeded", True)
    assert (report["elus_created"], report["mandates_created"], report["mandates_ended"]) == (1, 1, 2)
    assert (report["rows_read"], report["rows_loaded"], report["rows_rejected"]) == (3, 2, 1)
    assert report["rejected"] == [{"line": 4, "reason": report["rejected"][0]["reason"]}]
    async with sessionmaker() as session:
        elus = await session.scalar(text("SELECT count(*) FROM elus"))
        newcomer = await session.scalar(text("SELECT count(*) FROM elus WHERE family_key = 'NEUF'"))
    assert (elus, newcomer, await _open_mandates(sessionmaker)) == (3, 0, 3)


async def test_stray_quote_and_nul_byte_lines_are_reported_by_number_and_the_good_lines_load_R_REG_1(
    client: httpx.AsyncClient, agent: dict[str, str]
) -> None:
    rows = _rows(10)
    rows[2] = rows[2].replace("NOM2", '"NOM2')
    rows[5] = rows[5].replace("NOM5", "NOM\x005")
    job = await import_rne(client, agent, csv_file(CM_HEADER, *rows))
    report = job["report"]
    assert job["status"] == "succeeded", job
    assert (report["rows_read"], report["rows_loaded"], report["rows_rejected"]) == (10, 8, 2)
    assert [r["line"] for r in report["rejected"]] == [4, 7]
    assert "quote" in report["rejected"][0]["reason"] and "NUL" in report["rejected"][1]["reason"]
    assert report["elus_created"] == 8


async def test_an_html_form_upload_imports_like_a_csv_body_R_REG_1(
    client: httpx.AsyncClient, agent: dict[str, str]
) -> None:
    response = await client.post(
        "/v1/registry/imports?file_type=cm&snapshot_date=2026-01-15",
        files={"file": ("elus-municipaux-cm.csv", csv_file(CM_HEADER, *_rows(2)), "text/csv")},
        headers=agent,
    )
    assert response.status_code == 202, response.text
    job = await wait_job(client, f"/v1/registry/imports/{response.json()['id']}", agent)
    assert (job["status"], job["report"]["elus_created"]) == ("succeeded", 2)
    no_file = await client.post(
        "/v1/registry/imports?file_type=cm&snapshot_date=2026-01-15",
        files={"other": ("x.csv", b"x")},
        headers=agent,
    )
    assert no_file.status_code == 422
    assert [r["id"] for r in no_file.json()["rules"]] == ["R-REG-1"]


async def test_an_rne_file_above_the_default_1_mb_body_limit_is_accepted_R_REG_1(
    client: httpx.AsyncClient, agent: dict[str, str]
) -> None:
    body = csv_file(CM_HEADER, *_rows(20_000))
    assert len(body) > 1024 * 1024
    job = await import_rne(client, agent, body, dry_run=True)
    assert (job["status"], job["report"]["rows_loaded"]) == ("succeeded", 20_000)
