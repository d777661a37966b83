from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from servicekit.errors import install_problem_handlers
from servicekit.metrics import UNMATCHED_ROUTE, MetricsMiddleware, metrics_response

SERVICE = "metrics-test"


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(MetricsMiddleware, service=SERVICE)
    install_problem_handlers(app)

    @app.get("/v1/accounts/{elu_id}")
    async def account(elu_id: str) -> dict[str, str]:
        return {"elu_id": elu_id}

    @app.get("/v1/crash")
    async def crash() -> None:
        raise RuntimeError("boom")

    @app.get("/metrics", include_in_schema=False)
    async def metrics() -> object:
        return metrics_response()

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


def observed(route: str, status: str, method: str = "GET") -> float:
    labels = {"service": SERVICE, "method": method, "route": route, "status": status}
    return REGISTRY.get_sample_value("dife_http_request_duration_seconds_count", labels) or 0.0


async def test_requests_are_counted_by_route_template_not_raw_path(client: httpx.AsyncClient) -> None:
    before = observed("/v1/accounts/{elu_id}", "200")

    await client.get("/v1/accounts/a")
    await client.get("/v1/accounts/b")

    assert observed("/v1/accounts/{elu_id}", "200") == before + 2
    assert (
        REGISTRY.get_sample_value(
            "dife_http_request_duration_seconds_count",
            {"service": SERVICE, "method": "GET", "route": "/v1/accounts/a", "status": "200"},
        )
        is None
    )


async def test_unknown_paths_share_one_label(client: httpx.AsyncClient) -> None:
    before = observed(UNMATCHED_ROUTE, "404")

    await client.get("/random/1")
    await client.get("/random/2")

    assert observed(UNMATCHED_ROUTE, "404") == before + 2


async def test_unhandled_exception_counts_as_500(client: httpx.AsyncClient) -> None:
    before = observed("/v1/crash", "500")

    await client.get("/v1/crash")

    assert observed("/v1/crash", "500") == before + 1


async def test_unknown_methods_share_one_label(client: httpx.AsyncClient) -> None:
    before = observed("/v1/accounts/{elu_id}", "405", method="OTHER")

    await client.request("BREW", "/v1/accounts/a")

    assert observed("/v1/accounts/{elu_id}", "405", method="OTHER") == before + 1


async def test_metrics_endpoint_exposes_every_platform_metric(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics")

    assert response.headers["content-type"].startswith("text/plain")
    for name in (
        "dife_http_request_duration_seconds",
        "dife_events_published_total",
        "dife_events_consumed_total",
        "dife_dead_letters_total",
        "dife_outbox_backlog",
        "dife_consumer_lag",
        "dife_relay_latency_seconds",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in response.text
