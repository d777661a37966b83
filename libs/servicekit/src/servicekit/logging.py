"""Structured logging: structlog for our code and the libraries', one format, a request id on every line.

JSON lines in production, a readable console in development. Context bound with
`structlog.contextvars.bind_contextvars(request_id=…, event_id=…)` appears on every line logged while handling
that request or event, including lines from uvicorn, aiokafka or SQLAlchemy. Personal data is redacted as a
last line of defence (R-REG-3): code must not log it in the first place.
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import sys
from collections.abc import Iterator, Mapping
from typing import Any, TextIO

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from structlog.typing import EventDict, Processor, WrappedLogger

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID_HEADER_RAW = REQUEST_ID_HEADER.lower().encode()
REDACTED = "[redacted]"

NOISY_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "aiokafka", "sqlalchemy", "asyncio")

_SENSITIVE_KEY = re.compile(
    r"iban|password|passwd|secret|authorization|cookie|token|(?:^|[^a-z])nir(?:$|[^a-z])"
)
_NIR = re.compile(
    r"(?<![0-9A-Za-z])[1-478][ .]?\d{2}[ .]?\d{2}[ .]?(?:\d{2}|2[ABab])[ .]?\d{3}[ .]?\d{3}[ .]?\d{2}(?!\d)"
)
_IBAN = re.compile(r"(?<![0-9A-Za-z])[A-Z]{2}\d{2}(?: ?[A-Z0-9]){11,30}(?![0-9A-Za-z])")
_SHORTEST_SENSITIVE_VALUE = 15
_NIR_AS_INTEGER_MIN, _NIR_AS_INTEGER_END = 10**14, 10**15
_INCOMING_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def redact_value(value: Any) -> Any:
    """Mask NIR- and IBAN-looking strings (and NIR-sized integers), recursively through containers."""
    if isinstance(value, str):
        if len(value) < _SHORTEST_SENSITIVE_VALUE:
            return value
        return _IBAN.sub(REDACTED, _NIR.sub(REDACTED, value))
    if isinstance(value, int) and _NIR_AS_INTEGER_MIN <= value < _NIR_AS_INTEGER_END:
        return REDACTED if _NIR.fullmatch(str(value)) else value
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _is_sensitive_key(key) else redact_value(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return type(value)(redact_value(item) for item in value)
    return value


def _is_sensitive_key(key: object) -> bool:
    return isinstance(key, str) and _SENSITIVE_KEY.search(key.lower()) is not None


def redact_personal_data(_: WrappedLogger, __: str, event_dict: EventDict) -> EventDict:
    """structlog processor: drop values under sensitive keys, mask NIR/IBAN-looking values anywhere."""
    return {
        key: REDACTED if _is_sensitive_key(key) else redact_value(value) for key, value in event_dict.items()
    }


def configure_logging(*, json: bool, level: str = "INFO", stream: TextIO | None = None) -> None:
    """Route structlog and the standard library through one handler; safe to call again (tests, reloads)."""
    shared: list[Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: Processor = (
        structlog.processors.JSONRenderer()
        if json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_personal_data,
            renderer,
        ],
    )
    handler = logging.StreamHandler(stream or sys.stdout)
    handler.setFormatter(formatter)

    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in NOISY_LOGGERS:
        library_logger = logging.getLogger(name)
        library_logger.handlers.clear()
        library_logger.propagate = True
        library_logger.setLevel(logging.WARNING)

    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


class RequestContextMiddleware:
    """Pure ASGI middleware: one request id per request, bound for logging and echoed in `X-Request-ID`.

    A well-formed incoming `X-Request-ID` (from a gateway or a client) is kept so logs correlate across hops;
    anything else is replaced, so a header cannot inject text into log lines.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id_from(scope) or new_request_id()
        # Bound and later reset by token: clearing walks every context variable of the context (asyncio's,
        # SQLAlchemy's, …) twice per request, and a request's task starts from the server's empty context.
        bound = structlog.contextvars.bind_contextvars(request_id=request_id)

        async def send_with_request_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [
                    *(header for header in message.get("headers", ()) if header[0] != _REQUEST_ID_HEADER_RAW),
                    (_REQUEST_ID_HEADER_RAW, request_id.encode("latin-1")),
                ]
            await send(message)

        await self.app(scope, receive, send_with_request_id)
        # Reset only on success: after an unhandled exception, the server-error handler outside this
        # middleware still needs the request id to log the failure and echo the id in the 500 response.
        structlog.contextvars.reset_contextvars(**bound)


class _RequestIds:
    """32 hex digits like a UUID's, unique per process without a system call per request (`uuid4` reads
    the kernel's random source each time): a random prefix drawn once per process, then a counter."""

    def __init__(self) -> None:
        self._reseed()
        os.register_at_fork(after_in_child=self._reseed)

    def _reseed(self) -> None:
        self._prefix = os.urandom(8).hex()
        self._numbers: Iterator[int] = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._numbers):016x}"


_request_ids = _RequestIds()


def new_request_id() -> str:
    """A fresh request id (when the caller sent no usable one)."""
    return _request_ids.next()


def _request_id_from(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"x-request-id":
            candidate = value.decode("latin-1")
            return candidate if _INCOMING_REQUEST_ID.fullmatch(candidate) else None
    return None
