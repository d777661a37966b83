"""servicekit.rules: the one vocabulary of refusals, and its one translation to problem+json."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from servicekit import rules
from servicekit.errors import PROBLEM_MEDIA_TYPE, install_problem_handlers


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/dossiers")
    async def submit() -> None:
        checks = rules.Checks()
        checks.fail("R-DOS-2", "the account is not active")
        checks.fail("R-OFR-4", "the session is full", field="session_id")
        checks.raise_if_any()

    @app.post("/v1/dossiers/one")
    async def one_rule() -> None:
        raise rules.RuleBroken("R-DOS-1", "the answer is late", field="date")

    @app.post("/v1/dossiers/paid/cancellation")
    async def cancel() -> None:
        raise rules.InvalidTransition(current="paid", wanted="cancel", allowed=("evaluate",))

    @app.get("/v1/dossiers/missing")
    async def missing() -> None:
        raise rules.NotFound("no dossier 42")

    @app.post("/v1/envelopes")
    async def duplicate() -> None:
        raise rules.Conflict("an envelope with this deliberation exists", rule_id="R-FUN-2")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
        yield c


async def test_every_broken_rule_is_listed_with_its_id_and_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/dossiers")
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["type"].endswith("/rule-violation")
    assert body["rules"] == [
        {"id": "R-DOS-2", "detail": "the account is not active", "field": None},
        {"id": "R-OFR-4", "detail": "the session is full", "field": "session_id"},
    ]
    assert "R-DOS-2" in body["detail"] and "R-OFR-4" in body["detail"]


async def test_one_rule_broken_is_a_422_naming_it(client: httpx.AsyncClient) -> None:
    body = (await client.post("/v1/dossiers/one")).json()
    assert body["status"] == 422
    assert body["rules"] == [{"id": "R-DOS-1", "detail": "the answer is late", "field": "date"}]


async def test_an_invalid_transition_is_a_409_naming_the_status_and_what_it_allows(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/dossiers/paid/cancellation")
    assert response.status_code == 409
    body = response.json()
    assert (body["current"], body["allowed"]) == ("paid", ["evaluate"])
    assert body["detail"] == "cannot cancel while paid; allowed now: evaluate"


async def test_not_found_and_conflict(client: httpx.AsyncClient) -> None:
    missing = await client.get("/v1/dossiers/missing")
    assert (missing.status_code, missing.json()["detail"]) == (404, "no dossier 42")
    conflict = await client.post("/v1/envelopes")
    assert conflict.status_code == 409
    assert conflict.json()["rules"][0]["id"] == "R-FUN-2"


def test_checks_raise_nothing_when_no_rule_is_broken() -> None:
    checks = rules.Checks()
    checks.raise_if_any()
    assert not checks and checks.broken_ids() == []


def test_rules_broken_is_never_empty() -> None:
    with pytest.raises(ValueError):
        rules.RulesBroken([])
