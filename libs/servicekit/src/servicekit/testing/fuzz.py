"""Property-based fuzzing of a service's HTTP API from its own OpenAPI (schemathesis), for `make test`.

`serve(app)` runs the real app (its lifespan: database, Kafka, relay) under uvicorn in a thread on a free
loopback port; `fuzz(base_url, headers=…)` generates a bounded, derandomised number of requests per operation
from the OpenAPI document and returns every failure: a 5xx, a response that breaks its documented schema or
content type. A service's test asserts the list is empty, so any finding names the operation and the input.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import schemathesis
import uvicorn
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

HEALTH_PATHS = frozenset({"/healthz", "/readyz"})
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


@dataclass(frozen=True)
class Finding:
    operation: str
    status: int
    detail: str

    def __str__(self) -> str:
        return f"{self.operation} → {self.status}: {self.detail}"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def serve(app: FastAPI, *, start_timeout_s: float = 60.0) -> Iterator[str]:
    """The app served for real on 127.0.0.1 in a background thread; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name=f"fuzz-server-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("the app did not start under uvicorn")
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


HeadersFor = Callable[[str, str], dict[str, str]]


def fuzz(
    base_url: str,
    *,
    headers: HeadersFor | None = None,
    max_examples: int = 20,
    skip: Callable[[str, str], bool] | None = None,
) -> list[Finding]:
    """Findings of a bounded, repeatable fuzz of every operation; `headers(method, path)` authenticates."""
    schema = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    findings: list[Finding] = []
    # Health endpoints take no input; /readyz answers a documented 503 while the machine is too busy.
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise AssertionError(f"the OpenAPI document has an invalid operation: {result.err()}")
        operation = result.ok()
        method, path = operation.method.upper(), operation.path
        if path in HEALTH_PATHS or (skip is not None and skip(method, path)):
            continue
        extra = headers(method, path) if headers else {}
        findings += _fuzz_operation(operation, base_url, extra, max_examples)
    return findings


def _fuzz_operation(
    operation: Any, base_url: str, headers: dict[str, str], max_examples: int
) -> list[Finding]:
    found: list[Finding] = []
    label = f"{operation.method.upper()} {operation.path}"

    @settings(
        max_examples=max_examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
        phases=[Phase.explicit, Phase.generate],
    )
    @given(case=operation.as_strategy())
    def run(case: Any) -> None:
        response = case.call(base_url=base_url, headers=headers, timeout=30)
        try:
            case.validate_response(response, checks=CHECKS)
        except (Exception, BaseExceptionGroup) as failure:  # schemathesis groups the failed checks
            found.append(Finding(label, response.status_code, _summary(failure)))

    run()
    return found


def _summary(failure: BaseException) -> str:
    """The failed checks' titles and first lines (e.g. "Response violates schema: 'x' is not an integer")."""
    lines = [line.strip() for line in str(failure).splitlines() if line.strip()]
    titles = [line for line in lines if line.startswith("- ")] or lines[:1]
    return "; ".join(titles)[:300]
