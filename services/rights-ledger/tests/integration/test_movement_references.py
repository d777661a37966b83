"""The account's movements, as ``GET /v1/accounts/{elu_id}/movements`` shows them, carry typed references and
a value date beside the recording time; the journal stays append-only (R-ACC-3, R-END-1, R-FUN-1, R-PAY-2,
R-ACC-2)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from datetime import date
from typing import Any

import httpx
import pytest
from dife_contracts.enums import TrainingPurpose
from dife_contracts.events import DifeCaptureRequested, DifeHoldRequested, DifeReleaseRequested
from fastapi import FastAPI
from rights_ledger.app import create_app
from rights_ledger.consumers import hold_handlers
from rights_ledger.settings import Settings
from servicekit.clock import MovableClock
from servicekit.testing import dispatch, running_app
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import (
    CM_HEADER,
    DUPONT_CLAIMS,
    DUPONT_NIR,
    TESTS_TODAY,
    cm_row,
    csv_file,
    import_rne,
    run_campaign,
    wait_job,
)

Bearer = Callable[..., dict[str, str]]


@pytest.fixture
def paris_midnight() -> MovableClock:
    """00:30 in Paris is still the day before in UTC: a value date is the Paris day."""
    moved = MovableClock()
    moved.set_paris(TESTS_TODAY, 0)
    return moved


@pytest.fixture
async def app(
    settings: Settings, paris_midnight: MovableClock
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    application = create_app(settings, clock=paris_midnight)
    async with running_app(application) as http:
        yield application, http


async def _movements(client: httpx.AsyncClient, elu_id: str, headers: dict[str, str]) -> list[Any]:
    response = await client.get(f"/v1/accounts/{elu_id}/movements", headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_each_movement_names_its_campaign_hold_dossier_or_adjustment_and_its_value_date_R_ACC_3_R_PAY_2(
    app: tuple[FastAPI, httpx.AsyncClient],
    agent: dict[str, str],
    bearer: Bearer,
    paris_midnight: MovableClock,
) -> None:
    application, client = app
    assert paris_midnight.now().date() < TESTS_TODAY == paris_midnight.today()
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    elu = bearer("elu", sub="fc-dupont", **DUPONT_CLAIMS)
    activated = await client.post("/v1/accounts/activation", json={"nir": DUPONT_NIR}, headers=elu)
    assert activated.status_code == 200, activated.text
    elu_id = activated.json()["elu_id"]
    assert (await run_campaign(client, agent, "municipal", 2026))["status"] == "succeeded"

    handlers = hold_handlers(paris_midnight)
    captured, released = (
        DifeHoldRequested(
            dossier_id=uuid.uuid4(),
            elu_id=uuid.UUID(elu_id),
            amount_cents=amount,
            purpose=TrainingPurpose.MANDATE,
            training_start=date(2029, 1, 10),
            training_end=date(2029, 1, 11),
        )
        for amount in (10_000, 5_000)
    )
    for event in (
        captured,
        released,
        DifeCaptureRequested(dossier_id=captured.dossier_id, elu_id=captured.elu_id, amount_cents=4_000),
        DifeReleaseRequested(dossier_id=released.dossier_id, elu_id=released.elu_id, reason="cancelled"),
    ):
        assert await dispatch(application, handlers, event)
    adjusted = await client.post(
        f"/v1/accounts/{elu_id}/adjustments",
        json={"amount_cents": -1_000, "reason": "RNE fix"},
        headers=agent,
    )
    assert adjusted.status_code == 201, adjusted.text
    adjustment = adjusted.json()
    assert adjustment["value_date"] == TESTS_TODAY.isoformat()

    movements = await _movements(client, elu_id, elu)
    today = TESTS_TODAY.isoformat()
    hold_ids = {m["dossier_id"]: m["hold_id"] for m in movements if m["kind"] == "hold"}
    first, second = str(captured.dossier_id), str(released.dossier_id)
    assert [
        (m["kind"], m["value_date"], m["campaign"], m["hold_id"], m["dossier_id"], m["adjustment_id"])
        for m in movements
    ] == [
        ("credit", "2026-03-30", {"year": 2026, "family": "municipal"}, None, None, None),
        ("hold", today, None, hold_ids[first], first, None),
        ("hold", today, None, hold_ids[second], second, None),
        ("capture", today, None, hold_ids[first], first, None),
        ("release", today, None, hold_ids[first], first, None),
        ("release", today, None, hold_ids[second], second, None),
        ("adjustment", today, None, None, None, adjustment["adjustment_id"]),
    ]
    assert movements[-1]["id"] == adjustment["movement_id"]
    assert all(m["at"].startswith(paris_midnight.now().date().isoformat()) for m in movements)


async def test_an_expiry_movement_takes_effect_on_the_runs_as_of_R_END_1(
    app: tuple[FastAPI, httpx.AsyncClient], agent: dict[str, str], bearer: Bearer
) -> None:
    _, client = app
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    await run_campaign(client, agent, "municipal", 2026)
    await import_rne(
        client, agent, csv_file(CM_HEADER, cm_row("OTHER", "Person", "01/01/1950")), snapshot="2026-04-01"
    )
    response = await client.post("/v1/expiry-runs", json={"as_of": "2026-10-02"}, headers=agent)
    assert response.status_code == 202, response.text
    done = await wait_job(client, f"/v1/expiry-runs/{response.json()['id']}", agent)
    assert done["report"] == {"expired": 1, "total_cents": 40_000}
    [elu] = (await client.get("/v1/elus", params={"family_name": "Dupont"}, headers=agent)).json()["items"]
    expiry = (await _movements(client, elu["elu_id"], agent))[-1]
    assert (expiry["kind"], expiry["value_date"], expiry["reference"]) == (
        "expiry",
        "2026-10-02",
        "expiry run 2026-10-02",
    )
    assert (expiry["campaign"], expiry["hold_id"], expiry["dossier_id"], expiry["adjustment_id"]) == (
        None,
    ) * 4


_COLUMNS = (
    "elu_id, kind, counterparty, amount_cents, balance_delta_cents, held_delta_cents, balance_after_cents, "
    "held_after_cents, value_date"
)


def _insert(kind: str, counterparty: str, extra_column: str = "", extra_value: str = "") -> str:
    """One movement of one cent for every account, recorded now and dated 29 March 2026."""
    return (
        f"INSERT INTO movements ({_COLUMNS}{extra_column}) "
        f"SELECT elu_id, '{kind}', '{counterparty}', 1, 1, 0, 1, 0, DATE '2026-03-29'{extra_value} "
        "FROM accounts"
    )


async def test_the_database_refuses_a_movement_dated_after_its_paris_day_or_without_references_R_ACC_3(
    client: httpx.AsyncClient, agent: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    await run_campaign(client, agent, "municipal", 2026)
    dated = text(
        f"INSERT INTO movements ({_COLUMNS}, at, adjustment_id) "
        "SELECT elu_id, 'adjustment', 'adjustment', 1, 1, 0, 1, 0, CAST(:value_date AS date), "
        "TIMESTAMPTZ '2026-03-29 23:59:59+02', gen_random_uuid() FROM accounts"
    )
    async with sessionmaker.begin() as session:
        await session.execute(dated, {"value_date": date(2026, 3, 29)})
    with pytest.raises(DBAPIError, match="movements_value_date_not_after_recording"):
        async with sessionmaker.begin() as session:
            await session.execute(dated, {"value_date": date(2026, 3, 30)})
    for statement, constraint in (
        (_insert("credit", "fund"), "movements_credit_names_its_campaign"),
        (
            _insert("hold", "pending", ", hold_id", ", gen_random_uuid()"),
            "movements_hold_names_its_hold_and_dossier",
        ),
        (_insert("adjustment", "adjustment"), "movements_adjustment_names_its_adjustment"),
        ("UPDATE movements SET value_date = DATE '2026-01-01'", "append-only"),
    ):
        with pytest.raises(DBAPIError, match=constraint):
            async with sessionmaker.begin() as session:
                await session.execute(text(statement))
