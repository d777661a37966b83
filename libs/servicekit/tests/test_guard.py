"""What every request passes before its body is read (servicekit.guard), on a real service app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel
from servicekit.api import SessionDep
from servicekit.app import create_service_app
from servicekit.auth import Principal, require_roles
from servicekit.idempotency import idempotent
from servicekit.settings import KitSettings
from servicekit.testing import running_app
from sqlalchemy import text


class SampleSettings(KitSettings):
    service_name: str = "sample"


class ThingIn(BaseModel):
    name: str
    price_cents: int


Agent = Annotated[Principal, Depends(require_roles("agent", "organisme"))]


def router() -> APIRouter:
    api = APIRouter(prefix="/v1")

    @api.post("/things", status_code=201)
    async def create(body: ThingIn, request: Request, session: SessionDep, principal: Agent) -> Any:
        async def insert() -> tuple[int, Any]:
            thing_id = uuid.uuid4()
            await session.execute(
                text("INSERT INTO things (id, name) VALUES (:id, :name)"), {"id": thing_id, "name": body.name}
            )
            return 201, {"id": thing_id, "siret": principal.siret}

        return await idempotent(session, request, principal, insert)

    @api.post("/uploads", status_code=202)
    async def upload(request: Request, principal: Agent) -> dict[str, int]:
        return {"bytes": len(await request.body())}

    @api.get("/public/things")
    async def public(session: SessionDep, name: Annotated[str, Query(max_length=50)] = "") -> dict[str, int]:
        found = await session.scalar(text("SELECT count(*) FROM things WHERE name = :n"), {"n": name})
        return {"found": int(found or 0)}

    @api.get("/public/by-price")
    async def by_price(session: SessionDep, max_price_cents: int = 0) -> dict[str, int]:
        value = await session.scalar(text("SELECT CAST(:p AS bigint)"), {"p": max_price_cents})
        return {"max": int(value or 0)}

    return api


@pytest.fixture
async def client(
    sample_db: str, kit_overrides: Callable[[str], dict[str, Any]]
) -> AsyncIterator[httpx.AsyncClient]:
    settings = SampleSettings(**kit_overrides(sample_db), max_body_bytes=2_000)
    app = create_service_app(
        settings, title="sample", routers=[router()], body_limits={"/v1/uploads": 10_000}
    )
    async with running_app(app) as client:
        yield client


async def test_no_token_is_401_before_a_malformed_body_is_even_read(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/things", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"
    assert response.headers["www-authenticate"] == "Bearer"


async def test_an_unauthenticated_huge_body_is_refused_without_reading_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/uploads", content=b"x" * 50_000)
    assert response.status_code == 401


async def test_a_body_over_the_route_limit_is_413(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    too_big = await client.post(
        "/v1/things", json={"name": "a" * 3_000, "price_cents": 1}, headers=bearer("agent")
    )
    assert too_big.status_code == 413
    assert too_big.json()["type"].endswith("/payload-too-large")
    upload_ok = await client.post("/v1/uploads", content=b"x" * 9_000, headers=bearer("agent"))
    assert upload_ok.status_code == 202 and upload_ok.json() == {"bytes": 9_000}
    upload_big = await client.post("/v1/uploads", content=b"x" * 10_001, headers=bearer("agent"))
    assert upload_big.status_code == 413


async def test_a_body_streamed_past_the_limit_without_a_length_is_413(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(20):
            yield b"y" * 1_000

    response = await client.post("/v1/uploads", content=chunks(), headers=bearer("agent"))
    assert response.status_code == 413


async def test_a_nul_character_in_a_json_field_is_a_422_naming_it_not_a_500(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    response = await client.post(
        "/v1/things", json={"name": "a\u0000b", "price_cents": 1}, headers=bearer("agent")
    )
    assert response.status_code == 422
    assert response.json()["errors"][0] == {
        "field": "body.name",
        "message": "text may not contain a NUL character",
        "type": "nul_character",
    }


async def test_a_nul_byte_in_a_query_is_a_422_not_a_500(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/public/things", params={"name": "a\u0000"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.name"


@pytest.mark.parametrize("value", [2**63, -(2**63) - 1, 10**30])
async def test_an_integer_postgresql_cannot_store_is_a_422_not_a_500(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]], value: int
) -> None:
    in_query = await client.get("/v1/public/by-price", params={"max_price_cents": str(value)})
    assert in_query.status_code == 422
    assert in_query.json()["errors"][0]["type"] == "int_out_of_range"
    in_body = await client.post(
        "/v1/things", json={"name": "a", "price_cents": value}, headers=bearer("agent")
    )
    assert in_body.status_code == 422
    assert in_body.json()["errors"][0]["field"] == "body.price_cents"


async def test_the_largest_bigint_itself_is_accepted(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/public/by-price", params={"max_price_cents": str(2**63 - 1)})
    assert response.status_code == 200 and response.json() == {"max": 2**63 - 1}


async def test_a_malformed_json_body_with_a_token_is_a_documented_problem(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    response = await client.post(
        "/v1/things", content=b"{not json", headers={**bearer("agent"), "content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["type"].endswith("/validation-error")


async def test_an_idempotency_key_belongs_to_the_whole_principal_not_only_its_subject(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    """The same `sub` acting for two SIRETs with one key gets two answers, never the other SIRET's."""
    body = {"name": "offer", "price_cents": 1}
    first = await client.post(
        "/v1/things",
        json=body,
        headers={**bearer("organisme", sub="u1", siret="11111111111111"), "Idempotency-Key": "k"},
    )
    second = await client.post(
        "/v1/things",
        json=body,
        headers={**bearer("organisme", sub="u1", siret="22222222222222"), "Idempotency-Key": "k"},
    )
    assert first.status_code == second.status_code == 201
    assert first.json()["siret"] == "11111111111111"
    assert second.json()["siret"] == "22222222222222"
    assert "idempotent-replayed" not in second.headers


async def test_the_openapi_documents_every_error_as_a_problem(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    operation = schema["paths"]["/v1/things"]["post"]
    for status in ("422", "500"):
        assert operation["responses"][status]["content"] == {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    assert "HTTPValidationError" not in schema["components"]["schemas"]
