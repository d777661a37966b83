"""The authorization-matrix helper catches a missing row, a missing ownership check and a two-role bypass."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends
from servicekit.app import create_service_app
from servicekit.auth import Principal, require_roles
from servicekit.settings import KitSettings
from servicekit.testing import running_app
from servicekit.testing.authz import Row, check_matrix, row

ELU_A, ELU_B = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"

EluOrAgent = Annotated[Principal, Depends(require_roles("elu", "agent"))]


class SampleSettings(KitSettings):
    service_name: str = "sample"


def accounts() -> APIRouter:
    api = APIRouter(prefix="/v1")

    @api.get("/accounts/{elu_id}")
    async def checked(elu_id: str, principal: EluOrAgent) -> dict[str, str]:
        principal.ensure_elu(elu_id)
        return {"elu_id": elu_id}

    @api.get("/careless/{elu_id}")
    async def careless(elu_id: str, principal: EluOrAgent) -> dict[str, str]:
        return {"elu_id": elu_id}  # forgot the ownership check

    @api.get("/staff-bypass/{elu_id}")
    async def bypass(elu_id: str, principal: EluOrAgent) -> dict[str, str]:
        if "ops" not in principal.claims.get("roles", []):  # trusts any staff role the token holds
            principal.ensure_elu(elu_id)
        return {"elu_id": elu_id}

    @api.get("/public/things")
    async def public() -> dict[str, str]:
        return {}

    return api


@pytest.fixture
async def client(
    sample_db: str, kit_overrides: Callable[[str], dict[str, Any]]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(SampleSettings(**kit_overrides(sample_db)), title="sample", routers=[accounts()])
    async with running_app(app) as client:
        yield client


def identity(role: str) -> dict[str, Any]:
    return {"sub": ELU_A} if role == "elu" else {}


async def path(entry: Row, role: str, own: bool) -> str:
    return entry.path.replace("{elu_id}", ELU_A if own else ELU_B)


ROWS = [
    row("GET", "/v1/accounts/{elu_id}", "elu", "agent", owned=["elu"]),
    row("GET", "/v1/careless/{elu_id}", "elu", "agent", owned=["elu"]),
    row("GET", "/v1/staff-bypass/{elu_id}", "elu", "agent", owned=["elu"]),
    row("GET", "/v1/public/things"),
]


async def test_the_matrix_finds_every_contradiction_and_only_those(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    findings = await check_matrix(client, ROWS, bearer=bearer, identity=identity, path=path)
    assert [f for f in findings if "/v1/accounts/" in f or "/public/" in f] == []
    assert any(f.startswith("GET /v1/careless/{elu_id} as elu (other's)") for f in findings)
    assert any("GET /v1/staff-bypass/{elu_id} as elu+ops (other's): 200" in f for f in findings)


async def test_a_route_without_its_row_is_a_finding(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    findings = await check_matrix(client, ROWS[:1] + ROWS[3:], bearer=bearer, identity=identity, path=path)
    assert "GET /v1/careless/{elu_id}: served but has no row in the matrix" in findings
