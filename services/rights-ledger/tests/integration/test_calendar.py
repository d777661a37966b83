"""The ledger runs its own calendar: each campaign on its Paris date (R-ACC-3), the expiry every day
(R-END-1), without anyone posting them; moving the clock fires them (no sleeping for days)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import httpx
from rights_ledger.app import create_app
from rights_ledger.settings import Settings
from servicekit.clock import PARIS, MovableClock
from servicekit.testing import eventually, run_due_jobs, running_app

from .conftest import CM_HEADER, cm_row, csv_file, find_elu, import_rne


async def _jobs(client: httpx.AsyncClient, headers: dict[str, str], kind: str, status: str) -> list[Any]:
    response = await client.get("/v1/jobs", params={"kind": kind, "status": status}, headers=headers)
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


async def test_the_municipal_campaign_runs_by_itself_at_the_start_of_30_march_paris_R_ACC_3(
    settings: Settings, agent: dict[str, str]
) -> None:
    clock = MovableClock()
    clock.set_paris(date(2029, 3, 29), 12)
    app = create_app(settings, clock=clock)
    async with running_app(app) as client:
        await import_rne(client, agent, csv_file(CM_HEADER, cm_row("ROUX", "Anne", "02/02/1972")))
        elu = await find_elu(client, agent, "Roux", "Anne", date(1972, 2, 2))
        pending = await _jobs(client, agent, "accrual_campaign", "pending")
        assert sorted((j["params"]["family"], j["params"]["year"]) for j in pending) == [
            ("municipal", 2029),
            ("other", 2029),
        ]
        assert await run_due_jobs(app, ["accrual_campaign"]) == 0  # the eve: nothing is due

        clock.set(datetime(2029, 3, 30, 0, 30, tzinfo=PARIS))  # 29 March 22:30 UTC
        await run_due_jobs(app)

        async def credited() -> bool:
            account = (await client.get(f"/v1/accounts/{elu['elu_id']}", headers=agent)).json()
            return bool(account["balance_cents"] == 40_000)

        assert await eventually(credited)

        async def next_year_scheduled() -> bool:
            """The run reschedules itself once it has finished, a moment after the credits commit."""
            pending = await _jobs(client, agent, "accrual_campaign", "pending")
            found = sorted((j["params"]["family"], j["params"]["year"]) for j in pending)
            return found == [("municipal", 2030), ("other", 2029)]

        assert await eventually(next_year_scheduled)


async def test_the_expiry_runs_by_itself_every_day_as_of_that_day_R_END_1(
    settings: Settings, agent: dict[str, str]
) -> None:
    clock = MovableClock()
    clock.set_paris(date(2029, 5, 10), 15)
    app = create_app(settings, clock=clock)
    async with running_app(app) as client:
        [tomorrow] = await _jobs(client, agent, "expiry_run", "pending")
        assert tomorrow["params"] == {"as_of": "2029-05-11"}
        clock.set_paris(date(2029, 5, 11), 0, 5)
        await run_due_jobs(app)

        async def ran() -> bool:
            return bool(await _jobs(client, agent, "expiry_run", "succeeded"))

        assert await eventually(ran)
        [next_day] = await _jobs(client, agent, "expiry_run", "pending")
        assert next_day["params"] == {"as_of": "2029-05-12"}
