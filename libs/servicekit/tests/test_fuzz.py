"""The API fuzzer every service runs in `make test` finds what it promises: 5xx and schema violations."""

from __future__ import annotations

import asyncio

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from servicekit.testing.fuzz import fuzz, serve


class ThingIn(BaseModel):
    count: int
    name: str = Field(max_length=20)


class ThingOut(BaseModel):
    count: int


def app_with(bug: str | None) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/things", response_model=ThingOut)
    async def create(body: ThingIn) -> object:
        if bug == "server_error" and body.count < 0:
            raise RuntimeError("a bug on negative counts")
        if bug == "schema" and body.count > 10:
            return JSONResponse({"count": "eleven"})
        return {"count": body.count}

    return app


async def findings_for(bug: str | None) -> list[str]:
    def run() -> list[str]:
        with serve(app_with(bug)) as base_url:
            return [str(finding) for finding in fuzz(base_url, max_examples=40)]

    return await asyncio.to_thread(run)


async def test_a_correct_api_has_no_findings() -> None:
    assert await findings_for(None) == []


async def test_a_server_error_is_found() -> None:
    found = await findings_for("server_error")
    assert found and all("→ 500" in finding and "Server error" in finding for finding in found)


async def test_a_response_that_breaks_its_schema_is_found() -> None:
    found = await findings_for("schema")
    assert found and all("violates schema" in finding for finding in found)
