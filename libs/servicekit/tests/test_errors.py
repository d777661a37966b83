from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field
from servicekit import rules
from servicekit.errors import (
    PROBLEM_MEDIA_TYPE,
    DomainError,
    Forbidden,
    Unauthorized,
    install_problem_handlers,
    problem_type,
)


class OfferIn(BaseModel):
    title: str = Field(min_length=1)
    price_ht_cents: int = Field(ge=0)


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.post("/v1/offers")
    async def create_offer(offer: OfferIn) -> dict[str, str]:
        if offer.price_ht_cents == 0:
            raise rules.RulesBroken(
                [
                    rules.RuleBroken("R-OFR-3", "a paid offer has a positive price", field="price_ht_cents"),
                    rules.RuleBroken("R-OFR-4", "free offers are not eligible"),
                ]
            )
        return {"title": offer.title}

    @app.get("/v1/offers/{offer_id}")
    async def get_offer(offer_id: int) -> dict[str, int]:
        if offer_id == 404:
            raise rules.NotFound(f"no offer {offer_id}")
        if offer_id == 409:
            raise rules.Conflict("offer already withdrawn")
        if offer_id == 403:
            raise Forbidden("not your offer")
        if offer_id == 401:
            raise Unauthorized("a bearer token is required")
        if offer_id == 418:
            raise HTTPException(status_code=418, detail="short and stout")
        if offer_id == 500:
            raise RuntimeError("boom: secret internals at /srv/app.py line 12")
        return {"id": offer_id}

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_validation_error_names_each_invalid_field_and_is_a_422_problem(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post("/v1/offers", json={"title": "", "price_ht_cents": "cheap"})

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["type"] == problem_type("validation-error")
    assert body["status"] == 422
    fields = {error["field"] for error in body["errors"]}
    assert fields == {"body.title", "body.price_ht_cents"}
    assert "body.price_ht_cents" in body["detail"]
    assert all(error["message"] and error["type"] for error in body["errors"])


async def test_validation_error_never_echoes_the_input(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/offers", json={"title": "x", "price_ht_cents": "1 85 05 78 006 084 36"})

    assert response.status_code == 422
    assert "006 084" not in response.text


async def test_malformed_json_body_is_a_422_problem_not_a_500(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/v1/offers", content=b"{not json", headers={"content-type": "application/json"}
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE


async def test_invalid_path_parameter_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/offers/abc")

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "path.offer_id"


async def test_rule_violation_carries_every_rule_id(client: httpx.AsyncClient) -> None:
    response = await client.post("/v1/offers", json={"title": "Gestion locale", "price_ht_cents": 0})

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["type"] == problem_type("rule-violation")
    assert body["rules"] == [
        {"id": "R-OFR-3", "detail": "a paid offer has a positive price", "field": "price_ht_cents"},
        {"id": "R-OFR-4", "detail": "free offers are not eligible", "field": None},
    ]
    assert "a paid offer has a positive price" in body["detail"]


@pytest.mark.parametrize(
    ("offer_id", "status", "slug"),
    [
        (404, 404, "not-found"),
        (409, 409, "conflict"),
        (403, 403, "forbidden"),
        (401, 401, "unauthorized"),
    ],
)
async def test_domain_errors_map_to_their_status_and_type(
    client: httpx.AsyncClient, offer_id: int, status: int, slug: str
) -> None:
    response = await client.get(f"/v1/offers/{offer_id}")

    assert response.status_code == status
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["type"] == problem_type(slug)
    assert body["status"] == status
    assert body["instance"] == f"/v1/offers/{offer_id}"
    assert "rules" not in body


async def test_unauthorized_asks_for_a_bearer_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/offers/401")

    assert response.headers["www-authenticate"] == "Bearer"


async def test_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/nowhere")

    assert response.status_code == 404
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["status"] == 404


async def test_wrong_method_is_a_405_problem_keeping_the_allow_header(client: httpx.AsyncClient) -> None:
    response = await client.delete("/v1/offers")

    assert response.status_code == 405
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert "POST" in response.headers["allow"]


async def test_http_exception_keeps_its_status_and_detail(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/offers/418")

    assert response.status_code == 418
    assert response.json()["detail"] == "short and stout"


async def test_unexpected_exception_is_a_generic_500_without_internals(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/offers/500")

    assert response.status_code == 500
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    body = response.json()
    assert body["type"] == problem_type("internal-error")
    assert "boom" not in response.text
    assert "Traceback" not in response.text
    assert "/srv/app.py" not in response.text


def test_domain_error_detail_defaults_to_its_title() -> None:
    assert DomainError().detail == DomainError.title
