"""Read shortcuts answer exactly the 200s of their route, and leave every other answer to the route."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends
from prometheus_client import REGISTRY
from pydantic import BaseModel, Field
from servicekit.api import SessionDep
from servicekit.app import create_service_app
from servicekit.auth import Principal, current_principal, require_roles
from servicekit.rules import NotFound
from servicekit.settings import KitSettings
from servicekit.shortcuts import ReadShortcut
from servicekit.testing import running_app

SERVICE = "shortcut-sample"
KNOWN = "00000000-0000-0000-0000-00000000000a"
OTHER = "00000000-0000-0000-0000-00000000000b"
ABSENT = "00000000-0000-0000-0000-0000000000ff"

EluOrAgent = Annotated[Principal, Depends(require_roles("elu", "agent"))]


class SampleSettings(KitSettings):
    service_name: str = SERVICE


class AccountOut(BaseModel):
    elu_id: uuid.UUID
    balance_cents: int = Field(serialization_alias="balanceCents")
    seen_by: list[str]


class Calls:
    def __init__(self) -> None:
        self.by: list[str] = []

    async def account(self, principal: Principal, elu_id: uuid.UUID, by: str) -> AccountOut:
        self.by.append(by)
        principal.ensure_elu(elu_id)
        if str(elu_id) not in {KNOWN, OTHER}:
            raise NotFound("no account for this élu")
        return AccountOut(elu_id=elu_id, balance_cents=80_000, seen_by=sorted(principal.roles))


def router(calls: Calls) -> APIRouter:
    api = APIRouter(prefix="/v1")

    @api.get("/accounts/{elu_id}", response_model=AccountOut)
    async def get_account(elu_id: uuid.UUID, principal: EluOrAgent) -> AccountOut:
        return await calls.account(principal, elu_id, "route")

    @api.get("/any/{elu_id}", response_model=AccountOut)
    async def any_role(elu_id: uuid.UUID, principal: Annotated[Principal, Depends(current_principal)]) -> Any:
        return await calls.account(principal, elu_id, "route")

    @api.get("/with-session/{elu_id}", response_model=AccountOut)
    async def with_session(elu_id: uuid.UUID, session: SessionDep, principal: EluOrAgent) -> Any:
        return await calls.account(principal, elu_id, "route")

    @api.get("/open/{elu_id}", response_model=AccountOut)
    async def open_to_all(elu_id: uuid.UUID) -> Any:
        return AccountOut(elu_id=elu_id, balance_cents=0, seen_by=[])

    @api.get("/untyped/{elu_id}")
    async def untyped(elu_id: uuid.UUID, principal: EluOrAgent) -> Any:
        return {}

    return api


def shortcut(calls: Calls, path: str = "/v1/accounts/{elu_id}") -> ReadShortcut:
    async def answer(state: Any, principal: Principal, params: Mapping[str, Any]) -> AccountOut:
        return await calls.account(principal, params["elu_id"], "shortcut")

    return ReadShortcut(path, answer)


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
async def client(
    sample_db: str, kit_overrides: Callable[[str], dict[str, Any]], calls: Calls
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(
        SampleSettings(**kit_overrides(sample_db)),
        title="sample",
        routers=[router(calls)],
        read_shortcuts=[shortcut(calls)],
    )
    async with running_app(app) as client:
        yield client


def shortcut_answers() -> float:
    labels = {"service": SERVICE, "route": "/v1/accounts/{elu_id}"}
    return REGISTRY.get_sample_value("dife_read_shortcut_answers_total", labels) or 0.0


def observed(status: str) -> float:
    labels = {"service": SERVICE, "method": "GET", "route": "/v1/accounts/{elu_id}", "status": status}
    return REGISTRY.get_sample_value("dife_http_request_duration_seconds_count", labels) or 0.0


async def test_a_success_is_answered_by_the_shortcut_with_the_routes_exact_response(
    client: httpx.AsyncClient, calls: Calls, bearer: Callable[..., dict[str, str]]
) -> None:
    headers = bearer("elu", sub=KNOWN)
    answered, counted = shortcut_answers(), observed("200")

    by_shortcut = await client.get(f"/v1/accounts/{KNOWN}", headers=headers)
    by_route = await client.get(f"/v1/accounts/{KNOWN}?via=route", headers=headers)  # a query: the route

    assert calls.by == ["shortcut", "route"]
    assert by_shortcut.status_code == by_route.status_code == 200
    assert by_shortcut.content == by_route.content
    assert by_shortcut.json() == {"elu_id": KNOWN, "balanceCents": 80_000, "seen_by": ["elu"]}
    assert by_shortcut.headers["content-type"] == by_route.headers["content-type"] == "application/json"
    assert by_shortcut.headers["x-request-id"]  # the outer middlewares still wrap it
    assert shortcut_answers() == answered + 1
    assert observed("200") == counted + 2  # labelled with the route template, like the route's own answer


@pytest.mark.parametrize(
    ("roles", "sub", "elu_id", "status", "endpoint_reached"),
    [
        (["elu"], KNOWN, OTHER, 403, True),  # another élu's account
        (["organisme"], "org", KNOWN, 403, False),  # a role the route does not grant
        (["elu", "ops"], KNOWN, OTHER, 403, True),  # R-ACT-1: ops beside elu adds no staff bypass
        (["agent"], "agent", ABSENT, 404, True),  # the answer's own refusal
        (["agent"], "agent", "not-a-uuid", 422, False),  # a malformed path parameter
    ],
)
async def test_anything_but_a_success_is_answered_by_the_route(
    client: httpx.AsyncClient,
    calls: Calls,
    bearer: Callable[..., dict[str, str]],
    roles: list[str],
    sub: str,
    elu_id: str,
    status: int,
    endpoint_reached: bool,
) -> None:
    answered = shortcut_answers()

    response = await client.get(f"/v1/accounts/{elu_id}", headers=bearer(*roles, sub=sub))

    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert shortcut_answers() == answered
    assert calls.by[-1:] == (["route"] if endpoint_reached else [])


async def test_without_a_token_the_guard_answers_before_either(
    client: httpx.AsyncClient, calls: Calls
) -> None:
    response = await client.get(f"/v1/accounts/{KNOWN}")

    assert response.status_code == 401
    assert calls.by == []


async def test_the_shortcut_acts_with_the_routes_roles_only(
    client: httpx.AsyncClient, calls: Calls, bearer: Callable[..., dict[str, str]]
) -> None:
    response = await client.get(f"/v1/accounts/{KNOWN}", headers=bearer("agent", "organisme", sub="staff"))

    assert response.status_code == 200 and calls.by == ["shortcut"]
    assert response.json()["seen_by"] == ["agent"]


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("/v1/nowhere/{elu_id}", "no GET route"),
        ("/v1/any/{elu_id}", "takes current_principal, which a shortcut would skip"),
        ("/v1/open/{elu_id}", "exactly one require_roles"),
        ("/v1/untyped/{elu_id}", "no response model"),
        ("/v1/with-session/{elu_id}", "takes _transactional_session, which a shortcut would skip"),
    ],
)
def test_a_shortcut_that_matches_no_role_checked_typed_route_fails_the_build(
    calls: Calls, path: str, reason: str
) -> None:
    with pytest.raises(ValueError, match=reason):
        create_service_app(
            SampleSettings(database_url="postgresql+asyncpg://nobody@127.0.0.1:1/none"),
            title="sample",
            routers=[router(calls)],
            read_shortcuts=[shortcut(calls, path)],
        )
