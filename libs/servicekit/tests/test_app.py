"""A service app built by `create_service_app`: health, readiness, metrics, problems, Idempotency-Key."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import httpx
import pytest
from dife_contracts import topics
from dife_contracts.events import HoldPlaced
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from servicekit.api import SessionDep
from servicekit.app import create_service_app
from servicekit.auth import Principal, require_roles
from servicekit.consumer import ConsumerSpec, EventHandlers
from servicekit.idempotency import idempotent
from servicekit.jobs import JobKinds
from servicekit.outbox import enqueue
from servicekit.settings import KitSettings
from servicekit.state import kit_state
from servicekit.testing import Infra, collect, eventually, running_app
from sqlalchemy import func, select, text


class SampleSettings(KitSettings):
    service_name: str = "sample"


class ThingIn(BaseModel):
    name: str = Field(min_length=1)
    price_cents: int = Field(ge=0)


def sample_router() -> APIRouter:
    router = APIRouter(prefix="/v1")

    @router.post("/things", status_code=201)
    async def create_thing(
        body: ThingIn,
        request: Request,
        session: SessionDep,
        principal: Annotated[Principal, Depends(require_roles("agent"))],
    ) -> JSONResponse:
        async def create() -> tuple[int, Any]:
            thing_id = uuid.uuid4()
            await session.execute(
                text("INSERT INTO things (id, name) VALUES (:id, :name)"), {"id": thing_id, "name": body.name}
            )
            return 201, {"id": thing_id, "name": body.name}

        return await idempotent(session, request, principal, create)

    @router.post("/uploads", status_code=202)
    async def upload(
        request: Request,
        session: SessionDep,
        principal: Annotated[Principal, Depends(require_roles("agent"))],
    ) -> JSONResponse:
        """Streams its body itself (never whole in memory): the idempotency fingerprint is its digest."""
        digest, size = hashlib.sha256(), 0
        async for piece in request.stream():
            digest.update(piece)
            size += len(piece)

        async def accept() -> tuple[int, Any]:
            return 202, {"id": uuid.uuid4(), "size": size}

        return await idempotent(session, request, principal, accept, body_digest=digest.hexdigest())

    return router


@pytest.fixture
async def client(
    sample_db: str, kit_overrides: Callable[[str], dict[str, Any]]
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_service_app(
        SampleSettings(**kit_overrides(sample_db)), title="sample", routers=[sample_router()]
    )
    async with running_app(app) as client:
        yield client


async def things(client: httpx.AsyncClient) -> int:
    app = client._transport.app  # type: ignore[attr-defined]
    async with kit_state(app).sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(text("things"))) or 0)


async def test_healthz_and_readyz_answer_when_database_and_kafka_are_up(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}

    async def ready() -> bool:
        # each check has 2 s: on a loaded CI machine a first one may time out, as an orchestrator would retry
        answer = await client.get("/readyz")
        return answer.status_code == 200 and answer.json()["checks"] == {"database": "ok", "kafka": "ok"}

    assert await eventually(ready, timeout_s=30, interval_s=0.5)


async def test_metrics_expose_request_latency_by_route_template(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    await client.post("/v1/things", json={"name": "a", "price_cents": 1}, headers=bearer("agent"))
    body = (await client.get("/metrics")).text
    assert (
        'dife_http_request_duration_seconds_count{method="POST",route="/v1/things",service="sample",status="201"}'
        in body
    )


async def test_a_validation_error_is_a_problem_naming_the_field_never_a_500(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    response = await client.post("/v1/things", json={"name": "a", "price_cents": -1}, headers=bearer("agent"))
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert [error["field"] for error in response.json()["errors"]] == ["body.price_cents"]


async def test_no_token_is_401_and_a_wrong_role_is_403(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    assert (await client.post("/v1/things", json={"name": "a", "price_cents": 1})).status_code == 401
    wrong_role = await client.post("/v1/things", json={"name": "a", "price_cents": 1}, headers=bearer("elu"))
    assert wrong_role.status_code == 403


async def test_the_same_idempotency_key_and_body_return_the_first_answer_once(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    headers = {**bearer("agent", sub="agent-1"), "Idempotency-Key": "k-1"}
    first = await client.post("/v1/things", json={"name": "a", "price_cents": 1}, headers=headers)
    again = await client.post("/v1/things", json={"name": "a", "price_cents": 1}, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert again.headers["idempotent-replayed"] == "true"
    assert await things(client) == 1


async def test_the_same_idempotency_key_with_another_body_is_409(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    headers = {**bearer("agent", sub="agent-1"), "Idempotency-Key": "k-2"}
    await client.post("/v1/things", json={"name": "a", "price_cents": 1}, headers=headers)
    other = await client.post("/v1/things", json={"name": "b", "price_cents": 1}, headers=headers)
    assert other.status_code == 409
    assert other.headers["content-type"].startswith("application/problem+json")
    assert await things(client) == 1


async def test_a_streamed_body_is_fingerprinted_by_its_digest_for_idempotency(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    headers = {**bearer("agent", sub="agent-1"), "Idempotency-Key": "k-stream"}
    first = await client.post("/v1/uploads", content=b"a;b\n" * 1000, headers=headers)
    again = await client.post("/v1/uploads", content=b"a;b\n" * 1000, headers=headers)
    assert first.status_code == again.status_code == 202
    assert again.json() == first.json() == {"id": first.json()["id"], "size": 4000}
    assert again.headers["Idempotent-Replayed"] == "true"
    other = await client.post("/v1/uploads", content=b"a;c\n" * 1000, headers=headers)
    assert other.status_code == 409


async def test_a_failed_request_releases_its_idempotency_key(
    client: httpx.AsyncClient, bearer: Callable[..., dict[str, str]]
) -> None:
    headers = {**bearer("agent", sub="agent-1"), "Idempotency-Key": "k-3"}
    failed = await client.post("/v1/things", json={"name": "", "price_cents": 1}, headers=headers)
    assert failed.status_code == 422
    fixed = await client.post("/v1/things", json={"name": "a", "price_cents": 1}, headers=headers)
    assert fixed.status_code == 201


async def test_a_relay_only_process_publishes_what_an_api_process_without_relay_committed(
    infra: Infra,
    sample_db: str,
    unique_prefix: str,
    ledger_topic: str,
    kit_overrides: Callable[[str], dict[str, Any]],
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    """The production shape (deploy/README.md, relay Deployment): the API pods run no relay, the relay pods
    run nothing else; what the first commit reaches Kafka through the second."""
    jobs = JobKinds()

    @jobs.task("noop")
    async def noop(*_: Any) -> None:
        return None

    consumer = ConsumerSpec(name="reader", topics=[topics.FUNDING], handlers=EventHandlers())
    settings = kit_overrides(sample_db) | {"topic_prefix": unique_prefix}

    def app(title: str, **toggles: bool) -> FastAPI:
        return create_service_app(
            SampleSettings(**settings, **toggles), title=title, routers=[], consumers=[consumer], jobs=jobs
        )

    def running(app: FastAPI) -> set[str]:
        return {task.get_name() for task in kit_state(app).tasks}

    api = app("api", relay_enabled=False)
    relay = app("relay", consumers_enabled=False, jobs_enabled=False)
    event = new_hold_placed()
    async with running_app(api):
        assert running(api) == {"jobs", "consumer reader"}
        async with kit_state(api).sessionmaker.begin() as session:
            event_id = await enqueue(session, event)
        async with running_app(relay):
            assert running(relay) == {"outbox-relay"}
            received = await collect(infra, ledger_topic, count=1)
    assert [(envelope.id, envelope.source, envelope.parse()) for envelope in received] == [
        (str(event_id), "/dife/sample", event)
    ]
