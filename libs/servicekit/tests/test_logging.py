from __future__ import annotations

import io
import json
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import structlog
from _pytest.logging import LogCaptureHandler
from fastapi import FastAPI
from servicekit.errors import install_problem_handlers
from servicekit.logging import (
    NOISY_LOGGERS,
    REDACTED,
    RequestContextMiddleware,
    configure_logging,
    redact_personal_data,
)

NIR = "185057800608436"
NIR_SPACED = "1 85 05 78 006 084 36"
IBAN = "FR76 3000 6000 0112 3456 7890 189"


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """Capture what the configured handler writes, and leave global logging as it was found.

    pytest's per-phase capture handlers are left for pytest to manage: restoring them would leak them.
    """
    root = logging.getLogger()
    saved_handlers = [handler for handler in root.handlers if not isinstance(handler, LogCaptureHandler)]
    saved_level = root.level
    saved_libraries = {name: logging.getLogger(name).level for name in NOISY_LOGGERS}
    stream = io.StringIO()
    yield stream
    for handler in list(root.handlers):
        if isinstance(handler, logging.StreamHandler) and handler.stream is stream:
            root.removeHandler(handler)
    for handler in saved_handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(saved_level)
    for name, level in saved_libraries.items():
        logging.getLogger(name).setLevel(level)
    structlog.reset_defaults()
    structlog.contextvars.clear_contextvars()


def json_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def make_app() -> FastAPI:
    app = FastAPI()
    app.add_middleware(RequestContextMiddleware)
    install_problem_handlers(app)

    @app.get("/v1/ping")
    async def ping() -> dict[str, str]:
        structlog.get_logger("test").info("pinged", elu_count=3)
        logging.getLogger("some.library").warning("library says %s", "hello")
        return {"status": "ok"}

    @app.get("/v1/crash")
    async def crash() -> None:
        raise RuntimeError("kaboom")

    return app


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=make_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http


async def test_json_lines_carry_the_request_id_returned_in_the_response(
    log_stream: io.StringIO, client: httpx.AsyncClient
) -> None:
    configure_logging(json=True, level="INFO", stream=log_stream)

    response = await client.get("/v1/ping")

    request_id = response.headers["x-request-id"]
    lines = json_lines(log_stream)
    ours = next(line for line in lines if line["event"] == "pinged")
    library = next(line for line in lines if line["event"] == "library says hello")
    assert ours["request_id"] == request_id
    assert ours["elu_count"] == 3
    assert ours["level"] == "info"
    assert "timestamp" in ours
    assert library["request_id"] == request_id
    assert library["logger"] == "some.library"


async def test_a_well_formed_incoming_request_id_is_kept(
    log_stream: io.StringIO, client: httpx.AsyncClient
) -> None:
    configure_logging(json=True, level="INFO", stream=log_stream)

    response = await client.get("/v1/ping", headers={"X-Request-ID": "gw-1234.abc"})

    assert response.headers["x-request-id"] == "gw-1234.abc"
    assert json_lines(log_stream)[0]["request_id"] == "gw-1234.abc"


async def test_an_incoming_request_id_that_could_forge_log_lines_is_replaced(
    log_stream: io.StringIO, client: httpx.AsyncClient
) -> None:
    configure_logging(json=True, level="INFO", stream=log_stream)

    response = await client.get("/v1/ping", headers={"X-Request-ID": 'x" level=error fake'})

    assert response.headers["x-request-id"] != 'x" level=error fake'
    assert len(response.headers["x-request-id"]) == 32


async def test_each_request_gets_its_own_id_and_context_is_cleared_after(
    log_stream: io.StringIO, client: httpx.AsyncClient
) -> None:
    configure_logging(json=True, level="INFO", stream=log_stream)

    first = await client.get("/v1/ping")
    second = await client.get("/v1/ping")

    assert first.headers["x-request-id"] != second.headers["x-request-id"]
    assert structlog.contextvars.get_contextvars() == {}


async def test_unhandled_error_is_logged_with_its_request_id_which_the_500_returns(
    log_stream: io.StringIO, client: httpx.AsyncClient
) -> None:
    configure_logging(json=True, level="INFO", stream=log_stream)

    response = await client.get("/v1/crash")

    assert response.status_code == 500
    request_id = response.headers["x-request-id"]
    failure = next(line for line in json_lines(log_stream) if line["event"] == "unhandled_exception")
    assert failure["request_id"] == request_id
    assert "RuntimeError: kaboom" in failure["exception"]
    assert "kaboom" not in response.text


def test_event_id_bound_for_a_consumed_event_appears_on_every_line(log_stream: io.StringIO) -> None:
    configure_logging(json=True, level="INFO", stream=log_stream)
    structlog.contextvars.bind_contextvars(event_id="e-1")

    structlog.get_logger("consumer").info("handled")
    logging.getLogger("aiokafka").error("broker gone")

    assert [line["event_id"] for line in json_lines(log_stream)] == ["e-1", "e-1"]


def test_sensitive_keys_are_redacted_at_any_depth(log_stream: io.StringIO) -> None:
    configure_logging(json=True, level="INFO", stream=log_stream)

    structlog.get_logger().info(
        "elu_registered",
        nir=NIR,
        elu_nir="x",
        iban=IBAN,
        password="hunter2",
        headers={"Authorization": "Bearer abc", "accept": "json"},
        siret="12345678900011",
        reference=int(NIR),
    )

    line = json_lines(log_stream)[0]
    assert line["nir"] == REDACTED
    assert line["elu_nir"] == REDACTED
    assert line["iban"] == REDACTED
    assert line["password"] == REDACTED
    assert line["headers"] == {"Authorization": REDACTED, "accept": "json"}
    assert line["siret"] == "12345678900011"
    assert line["reference"] == REDACTED


def test_nir_and_iban_looking_values_are_masked_wherever_they_appear(log_stream: io.StringIO) -> None:
    configure_logging(json=True, level="INFO", stream=log_stream)

    structlog.get_logger().info(
        f"imported élu {NIR}", rows=[f"line 3: {NIR_SPACED};x", "ok"], note=f"paid to {IBAN}"
    )
    logging.getLogger("some.library").warning("bad row %s", NIR)

    text = log_stream.getvalue()
    assert NIR not in text
    assert "006 084" not in text
    assert "3000 6000" not in text
    first, second = json_lines(log_stream)
    assert first["event"] == f"imported élu {REDACTED}"
    assert first["rows"] == [f"line 3: {REDACTED};x", "ok"]
    assert second["event"] == f"bad row {REDACTED}"


def test_identifiers_that_are_not_personal_data_are_left_alone() -> None:
    event = {
        "event": "x",
        "elu_id": "6f1c2a9e-8d1b-4a57-9a0e-3b1f7c5d2e10",
        "siret": "12345678900011",
        "timestamp": "2026-11-22T11:52:53.123456Z",
        "amount_cents": 80_000,
        "rows": 500_000,
        "ce_type": "dife.ledger.hold_placed.v1",
    }

    assert redact_personal_data(None, "info", dict(event)) == event


def test_library_loggers_are_quiet_below_warning(log_stream: io.StringIO) -> None:
    configure_logging(json=True, level="DEBUG", stream=log_stream)

    logging.getLogger("uvicorn.access").info("GET / 200")
    logging.getLogger("sqlalchemy.engine").info("SELECT 1")
    logging.getLogger("aiokafka").warning("rebalancing")

    assert [line["event"] for line in json_lines(log_stream)] == ["rebalancing"]


def test_console_rendering_for_development_is_redacted_too(log_stream: io.StringIO) -> None:
    configure_logging(json=False, level="INFO", stream=log_stream)

    structlog.get_logger().info("registered", nir=NIR, note=NIR_SPACED)

    text = log_stream.getvalue()
    assert "registered" in text
    assert NIR not in text
    assert NIR_SPACED not in text
    assert not text.lstrip().startswith("{")


def test_configuring_twice_keeps_a_single_handler(log_stream: io.StringIO) -> None:
    configure_logging(json=True, level="INFO", stream=log_stream)
    configure_logging(json=True, level="INFO", stream=log_stream)

    structlog.get_logger().info("once")

    assert len(json_lines(log_stream)) == 1
