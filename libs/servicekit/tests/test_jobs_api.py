"""The job endpoints a service gets from servicekit.jobs_api, on a real app: start, follow, list, refuse."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import APIRouter, Request
from pydantic import BaseModel, Field
from servicekit.app import create_service_app
from servicekit.auth import Principal
from servicekit.clock import MovableClock
from servicekit.jobs import JobContext, JobKinds
from servicekit.jobs_api import job_routes
from servicekit.rules import RuleBroken
from servicekit.settings import KitSettings
from servicekit.testing import run_due_jobs, running_app


class SampleSettings(KitSettings):
    service_name: str = "sample"


class CampaignIn(BaseModel):
    year: int = Field(strict=True, ge=2020, le=2100)


async def only_past_years(request: Request, body: CampaignIn, principal: Principal) -> dict[str, Any]:
    if body.year > 2027:
        raise RuleBroken("R-ACC-3", "a campaign runs on or after its date", field="year")
    return {"year": body.year, "by": principal.sub}


def build(sample_db: str, overrides: dict[str, Any]) -> Any:
    kinds = JobKinds()

    @kinds.task("campaign")
    async def run(ctx: JobContext) -> dict[str, Any]:
        await ctx.progress(done=1, total=1)
        return {"credited": 1, "year": ctx.params["year"]}

    router = APIRouter(prefix="/v1")
    job_routes(
        router,
        path="/campaigns",
        kind="campaign",
        roles=("agent", "ops"),
        body=CampaignIn,
        prepare=only_past_years,
    )
    settings = SampleSettings(**overrides, jobs_enabled=False)
    clock = MovableClock(datetime(2027, 3, 30, 8, 0, tzinfo=UTC))
    return create_service_app(settings, title="sample", routers=[router], jobs=kinds, clock=clock)


@pytest.fixture
async def app_client(
    sample_db: str, kit_overrides: Callable[[str], dict[str, Any]]
) -> AsyncIterator[tuple[Any, httpx.AsyncClient]]:
    app = build(sample_db, kit_overrides(sample_db))
    async with running_app(app) as client:
        yield app, client


async def test_a_job_is_started_followed_and_listed(
    app_client: tuple[Any, httpx.AsyncClient], bearer: Callable[..., dict[str, str]]
) -> None:
    app, client = app_client
    started = await client.post("/v1/campaigns", json={"year": 2027}, headers=bearer("agent", sub="a-1"))
    assert started.status_code == 202
    job = started.json()
    assert (job["status"], job["params"]) == ("pending", {"year": 2027, "by": "a-1"})
    assert await run_due_jobs(app) == 1
    done = (await client.get(f"/v1/campaigns/{job['id']}", headers=bearer("ops"))).json()
    assert (done["status"], done["report"], done["rows_done"]) == (
        "succeeded",
        {"credited": 1, "year": 2027},
        1,
    )
    listed = await client.get("/v1/jobs", params={"kind": "campaign"}, headers=bearer("agent"))
    assert [item["id"] for item in listed.json()["items"]] == [job["id"]]


async def test_a_refused_job_is_a_422_naming_its_rule_and_nothing_is_queued(
    app_client: tuple[Any, httpx.AsyncClient], bearer: Callable[..., dict[str, str]]
) -> None:
    app, client = app_client
    refused = await client.post("/v1/campaigns", json={"year": 2031}, headers=bearer("agent"))
    assert refused.status_code == 422
    assert refused.json()["rules"] == [
        {"id": "R-ACC-3", "detail": "a campaign runs on or after its date", "field": "year"}
    ]
    not_a_year = await client.post("/v1/campaigns", json={"year": 2027.0}, headers=bearer("agent"))
    assert not_a_year.status_code == 422
    assert await run_due_jobs(app) == 0


async def test_job_endpoints_need_a_staff_token(
    app_client: tuple[Any, httpx.AsyncClient], bearer: Callable[..., dict[str, str]]
) -> None:
    _, client = app_client
    assert (await client.get("/openapi.json")).status_code == 200
    assert (await client.get("/v1/jobs")).status_code == 401
    assert (await client.get("/v1/jobs", headers=bearer("elu"))).status_code == 403
    assert (
        await client.post("/v1/campaigns", json={"year": 2027}, headers=bearer("organisme"))
    ).status_code == 403
    assert (await client.get("/v1/jobs", headers=bearer("ops"))).status_code == 200


async def test_a_job_without_its_body_is_a_422_not_a_500(
    app_client: tuple[Any, httpx.AsyncClient], bearer: Callable[..., dict[str, str]]
) -> None:
    _, client = app_client
    response = await client.post("/v1/campaigns", headers=bearer("agent"))
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "body"
