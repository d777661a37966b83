"""The lists read from the plain read pool (issue 9): order, keyset continuity across pages (ties on the sort
key included), filters, and an index behind every statement even when PostgreSQL plans it generically."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest
from dife_contracts.enums import DossierStatus
from dossier.adapters.lists import dossiers_statement, financed_trainings_statement
from dossier.adapters.repository import DossierFilter

from .conftest import START, Running


async def _pages(app: Running, path: str, headers: dict[str, str], limit: int) -> list[list[dict[str, Any]]]:
    """Every page of a list, following `next_cursor` to the end."""
    pages: list[list[dict[str, Any]]] = []
    cursor = None
    while True:
        query = f"{path}{'&' if '?' in path else '?'}limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        response = await app.client.get(query, headers=headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert set(body) == {"items", "next_cursor"}  # no total: counting would read every row
        pages.append(body["items"])
        cursor = body["next_cursor"]
        if cursor is None:
            return pages


async def test_an_organisme_pages_through_its_dossiers_newest_first_without_gap_or_repeat(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of, other = siret(), siret()
    offer = await app.offer(of)
    created = []
    for n in range(5):
        if n != 2:  # the 2nd and 3rd share their submission instant: the id breaks the tie
            app.clock.advance(timedelta(minutes=1))
        created.append(await app.submitted(await app.elu_with_account(), *offer))
    await app.submitted(await app.elu_with_account(), *await app.offer(other))

    pages = await _pages(app, "/v1/dossiers", app.organisme(of), limit=2)

    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [item["id"] for page in pages for item in page]
    newest_first = sorted(created, key=lambda d: (d["submitted_at"], d["id"]), reverse=True)
    assert listed == [d["id"] for d in newest_first]
    assert created[1]["submitted_at"] == created[2]["submitted_at"]
    assert pages[0][0] == await app.get(listed[0]) | {"history": []}  # a list item is the dossier, no history


async def test_an_organisme_lists_one_status_of_its_dossiers(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    offer = await app.offer(of)
    first = await app.submitted(await app.elu_with_account(), *offer)
    second = await app.submitted(await app.elu_with_account(), *offer)
    await app.post(f"/v1/dossiers/{first['id']}/validation", app.organisme(of))

    validated = await _pages(app, "/v1/dossiers?status=validated", app.organisme(of), limit=10)
    submitted = await _pages(app, "/v1/dossiers?status=submitted", app.organisme(of), limit=10)

    assert [item["id"] for item in validated[0]] == [first["id"]]
    assert [item["id"] for item in submitted[0]] == [second["id"]]


async def test_the_public_list_pages_in_training_start_order_without_gap_or_repeat_R_PUB_1(
    dossier_app: Running, siret: Callable[[], str]
) -> None:
    app = dossier_app
    of = siret()
    starts = [START + timedelta(weeks=w) for w in (3, 0, 2, 0, 1)]
    for start in starts:
        elu_id = await app.elu_with_account()
        dossier = await app.submitted(elu_id, *await app.offer(of, start=start))
        await app.plan_ready(await app.post(f"/v1/dossiers/{dossier['id']}/validation", app.organisme(of)))
        await app.post(f"/v1/dossiers/{dossier['id']}/acceptance", app.elu(elu_id))

    pages = await _pages(app, f"/v1/public/financed-trainings?siret={of}", {}, limit=2)

    assert [len(page) for page in pages] == [2, 2, 1]
    listed = [item["start_date"] for page in pages for item in page]
    assert listed == sorted(start.isoformat() for start in starts)


STATEMENTS = {
    "organisme": dossiers_statement(DossierFilter(siret="12345678900011"), after=None, limit=20),
    "organisme, status": dossiers_statement(
        DossierFilter(siret="12345678900011", status=DossierStatus.SUBMITTED), after=None, limit=20
    ),
    "organisme, next page": dossiers_statement(
        DossierFilter(siret="12345678900011"), after=(datetime(2027, 1, 1, tzinfo=UTC), uuid.uuid4()), limit=9
    ),
    "élu": dossiers_statement(DossierFilter(elu_id=uuid.uuid4()), after=None, limit=20),
    "agent": dossiers_statement(DossierFilter(), after=None, limit=20),
    "agent, status": dossiers_statement(DossierFilter(status=DossierStatus.PAID), after=None, limit=20),
    "public": financed_trainings_statement(year=None, department=None, siret=None, after=None, limit=20),
    "public, year": financed_trainings_statement(year=2027, department=None, siret=None, after=None, limit=9),
    "public, département": financed_trainings_statement(
        year=None, department="69", siret=None, after=None, limit=20
    ),
    "public, SIRET, next page": financed_trainings_statement(
        year=None, department=None, siret="12345678900011", after=(START, uuid.uuid4()), limit=20
    ),
}


def _scanned(plan: dict[str, Any]) -> list[tuple[str, str]]:
    """(node type, relation) of every scan in a JSON plan."""
    found = [(plan["Node Type"], plan.get("Relation Name", ""))]
    for child in plan.get("Plans", []):
        found += _scanned(child)
    return found


@pytest.mark.parametrize("name", list(STATEMENTS))
async def test_every_list_statement_reads_dossiers_in_an_index_order_even_in_a_generic_plan(
    dossier_app: Running, name: str
) -> None:
    """Prepared statements end up on generic plans: a list must not fall back to reading 1,000,000 rows
    then (the financed statuses are literals, so the partial indexes' predicate is provable)."""
    text, args = STATEMENTS[name]
    connection = await asyncpg.connect(dossier_app.database_url.replace("+asyncpg", ""))
    try:
        await connection.execute("SET enable_seqscan = off; SET plan_cache_mode = force_generic_plan")
        await connection.execute(f"PREPARE listed AS {text}")
        values = ", ".join(f"'{value}'" for value in args)
        plan = json.loads(await connection.fetchval(f"EXPLAIN (FORMAT JSON) EXECUTE listed({values})"))
    finally:
        await connection.close()
    scans = _scanned(plan[0]["Plan"])
    assert ("Seq Scan", "dossiers") not in scans, scans
    assert any(relation == "dossiers" and node.startswith("Index") for node, relation in scans), scans
    assert "Sort" not in {node for node, _ in scans}, scans  # the index gives the order: LIMIT stops early
