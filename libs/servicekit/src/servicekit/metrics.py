"""Every Prometheus metric the platform exports, defined once so names and labels stay consistent.

Each carries a `service` label: dashboards and alerts are written once and filtered by service. Labels are
bounded on purpose: routes are recorded by template (`/v1/accounts/{elu_id}`), never by raw path.
"""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LATENCY_BUCKETS_S = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

HTTP_REQUEST_SECONDS = Histogram(
    "dife_http_request_duration_seconds",
    "HTTP request latency, from the first byte received to the response sent.",
    ["service", "method", "route", "status"],
    buckets=LATENCY_BUCKETS_S,
)
EVENTS_PUBLISHED = Counter(
    "dife_events_published_total",
    "Events acknowledged by Kafka after being relayed from the outbox, by event type (the CloudEvents type:"
    " a closed list in dife_contracts, so the label stays bounded).",
    ["service", "topic", "type"],
)
EVENTS_CONSUMED = Counter(
    "dife_events_consumed_total",
    "Events handled by a consumer, by outcome (applied, duplicate, retried, dead_lettered, ignored).",
    ["service", "topic", "type", "outcome"],
)
DEAD_LETTERS = Counter(
    "dife_dead_letters_total",
    "Events sent to a dead-letter topic after permanent failure.",
    ["service", "topic"],
)
OUTBOX_BACKLOG = Gauge(
    "dife_outbox_backlog",
    "Outbox rows committed but not yet acknowledged by Kafka.",
    ["service"],
)
OUTBOX_OLDEST_AGE_SECONDS = Gauge(
    "dife_outbox_oldest_age_seconds",
    "Seconds the oldest outbox row has waited for Kafka (0 when the outbox is empty).",
    ["service"],
)
CONSUMER_LAG = Gauge(
    "dife_consumer_lag",
    "Messages between a consumer's committed offset and the partition's end.",
    ["service", "topic", "partition"],
)
JOB_ROWS_DONE = Gauge(
    "dife_job_rows_done",
    "Rows done by the running (or last) job of each kind (servicekit.jobs progress).",
    ["service", "kind"],
)
JOB_ROWS_TOTAL = Gauge(
    "dife_job_rows_total",
    "Rows to do in the running (or last) job of each kind.",
    ["service", "kind"],
)
RELAY_LATENCY_SECONDS = Histogram(
    "dife_relay_latency_seconds",
    "Time from an outbox row's commit to Kafka's acknowledgement of the event.",
    ["service"],
    buckets=LATENCY_BUCKETS_S,
)

UNMATCHED_ROUTE = "<unmatched>"
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def route_template(scope: Scope) -> str:
    """The matched route's path template (the router sets it on the scope), or a fixed label."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Pure ASGI middleware observing `HTTP_REQUEST_SECONDS`; an unhandled exception counts as a 500."""

    def __init__(self, app: ASGIApp, *, service: str) -> None:
        self.app = app
        self.service = service
        # `labels()` takes a lock and builds a key on every call (~15 µs); the label sets are few and bounded
        # (methods x route templates x statuses), so each child is looked up once.
        self._children: dict[tuple[str, str, int], Any] = {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_recording_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_recording_status)
        finally:
            elapsed = time.perf_counter() - started
            method = scope["method"] if scope["method"] in _KNOWN_METHODS else "OTHER"
            key = (method, route_template(scope), status)
            child = self._children.get(key)
            if child is None:
                child = self._children[key] = HTTP_REQUEST_SECONDS.labels(self.service, *key[:2], str(status))
            child.observe(elapsed)


def metrics_response(registry: CollectorRegistry = REGISTRY) -> Response:
    """The body of `GET /metrics` in Prometheus text format."""
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
