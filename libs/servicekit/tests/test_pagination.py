from __future__ import annotations

import base64
import inspect
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel
from servicekit.errors import PROBLEM_MEDIA_TYPE, install_problem_handlers, problem_type
from servicekit.pagination import (
    InvalidCursor,
    Page,
    PageDep,
    PageParams,
    decode_cursor,
    encode_cursor,
    page_params,
)


class Offer(BaseModel):
    id: int
    title: str


OFFERS = [Offer(id=number, title=f"Formation {number}") for number in range(1, 8)]


def make_app() -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/v1/offers")
    async def list_offers(page: Annotated[PageParams, Depends()]) -> Page[Offer]:
        after = page.after(types=(int,))
        start_id = after[0] if after else 0
        rows = [offer for offer in OFFERS if offer.id > start_id][: page.limit + 1]
        return Page[Offer].from_overfetch(rows, limit=page.limit, cursor_values=lambda offer: (offer.id,))

    @app.get("/v1/offers-by-coroutine")
    async def list_offers_by_coroutine(page: PageDep) -> Page[Offer]:
        return await list_offers(page)

    return app


def test_page_dep_declares_the_same_query_parameters_as_the_class_dependency() -> None:
    paths = make_app().openapi()["paths"]

    assert paths["/v1/offers-by-coroutine"]["get"]["parameters"] == paths["/v1/offers"]["get"]["parameters"]
    assert inspect.iscoroutinefunction(page_params), "a coroutine: FastAPI runs it without a thread hand-off"


async def test_page_dep_pages_like_the_class_dependency(client: httpx.AsyncClient) -> None:
    first = (await client.get("/v1/offers-by-coroutine", params={"limit": 3})).json()
    second = (
        await client.get("/v1/offers-by-coroutine", params={"limit": 3, "cursor": first["next_cursor"]})
    ).json()

    assert [offer["id"] for offer in first["items"] + second["items"]] == [1, 2, 3, 4, 5, 6]
    assert (await client.get("/v1/offers-by-coroutine", params={"limit": 0})).status_code == 422


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=make_app()), base_url="http://test"
    ) as http:
        yield http


def test_cursor_round_trips_uuids_datetimes_dates_and_scalars() -> None:
    values = (
        datetime(2026, 11, 22, 12, 30, tzinfo=UTC),
        uuid.UUID("6f1c2a9e-8d1b-4a57-9a0e-3b1f7c5d2e10"),
        date(2026, 1, 1),
        "Gestion budgétaire",
        42,
        1.5,
        True,
        None,
    )

    assert decode_cursor(encode_cursor(values)) == values


def test_cursor_is_url_safe_and_unpadded() -> None:
    cursor = encode_cursor(("é?&/+=" * 5, 10**12))

    assert all(char.isalnum() or char in "-_" for char in cursor)


def test_values_that_json_cannot_carry_are_refused_at_encoding() -> None:
    with pytest.raises(TypeError):
        encode_cursor((object(),))


@pytest.mark.parametrize(
    "garbage",
    [
        "!!!",
        "bm90IGpzb24",  # base64 of "not json"
        base64.urlsafe_b64encode(b'{"a": 1}').decode(),  # JSON but not a list
        base64.urlsafe_b64encode(b'[{"uuid": "nope"}]').decode(),
        base64.urlsafe_b64encode(b'[{"pickle": "x"}]').decode(),
        base64.urlsafe_b64encode(b"[[1, 2]]").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
        "A" * 2000,
    ],
)
def test_garbage_cursor_is_an_invalid_cursor_422(garbage: str) -> None:
    with pytest.raises(InvalidCursor) as raised:
        decode_cursor(garbage)

    assert raised.value.status == 422


def test_cursor_of_the_wrong_shape_is_refused_when_types_are_given() -> None:
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor(("10",)), types=(int,))
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor((True,)), types=(int,))
    with pytest.raises(InvalidCursor):
        decode_cursor(encode_cursor((1, 2)), types=(int,))

    assert decode_cursor(encode_cursor((None, 3)), types=(str, int)) == (None, 3)


async def test_pages_walk_the_whole_list_then_stop(client: httpx.AsyncClient) -> None:
    seen: list[int] = []
    params: dict[str, str | int] = {"limit": 3}
    pages = 0

    while True:
        body = (await client.get("/v1/offers", params=params)).json()
        pages += 1
        seen.extend(item["id"] for item in body["items"])
        if body["next_cursor"] is None:
            break
        params = {"limit": 3, "cursor": body["next_cursor"]}

    assert seen == [offer.id for offer in OFFERS]
    assert pages == 3


async def test_exact_final_page_has_no_next_cursor(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/offers", params={"limit": 7})).json()

    assert len(body["items"]) == 7
    assert body["next_cursor"] is None


async def test_default_limit_is_50(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/offers")).json()

    assert len(body["items"]) == len(OFFERS)


@pytest.mark.parametrize("limit", [0, 501, -1])
async def test_limit_out_of_bounds_is_a_422_problem(client: httpx.AsyncClient, limit: int) -> None:
    response = await client.get("/v1/offers", params={"limit": limit})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "query.limit"


async def test_forged_cursor_is_a_422_problem_not_a_500(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/offers", params={"cursor": encode_cursor(("1; DROP TABLE",))})

    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert response.json()["type"] == problem_type("invalid-cursor")


def test_openapi_documents_cursor_and_limit() -> None:
    parameters = make_app().openapi()["paths"]["/v1/offers"]["get"]["parameters"]

    by_name = {parameter["name"]: parameter for parameter in parameters}
    assert by_name["limit"]["schema"]["maximum"] == 500
    assert by_name["limit"]["schema"]["default"] == 50
    assert "cursor" in by_name
