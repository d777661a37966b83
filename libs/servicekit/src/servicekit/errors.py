"""Errors turned into RFC 9457 problem details by one set of handlers: the one translation to HTTP.

`servicekit.rules` errors (the domain's refusals) become 422/409/404 problems naming their rule ids;
`DomainError` subclasses (authentication, access, limits) carry their own status; validation errors, HTTP
errors and unexpected exceptions are rendered in the same shape, so a client only ever parses one kind of
error body and never sees a stack trace.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any, ClassVar

import asyncpg
import sqlalchemy.exc
import structlog
from aiokafka.errors import KafkaConnectionError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from servicekit import rules

PROBLEM_MEDIA_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://dife.gouv.fr/problems/"

_log = structlog.get_logger(__name__)


def problem_type(slug: str) -> str:
    """The problem type URI for `slug`, so every service names its problems under one base."""
    return PROBLEM_TYPE_BASE + slug


class DomainError(Exception):
    """Base of the protocol-level refusals (authentication, access, limits, malformed headers or cursors);
    subclasses set `status`, `type` and `title`. A business rule is never one of these: it is a
    `servicekit.rules` error, raised by the domain."""

    status: ClassVar[int] = 400
    type: ClassVar[str] = problem_type("bad-request")
    title: ClassVar[str] = "Bad request"

    def __init__(self, detail: str | None = None) -> None:
        self.detail: str = detail or self.title
        super().__init__(self.detail)

    def headers(self) -> dict[str, str]:
        """Extra response headers this error requires (e.g. `WWW-Authenticate` on a 401)."""
        return {}

    def problem(self, instance: str | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": self.type,
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
        }
        if instance is not None:
            body["instance"] = instance
        return body


class Forbidden(DomainError):
    status = 403
    type = problem_type("forbidden")
    title = "Forbidden"


class PayloadTooLarge(DomainError):
    """The body is larger than the route accepts (checked before it is read: `servicekit.guard`)."""

    status = 413
    type = problem_type("payload-too-large")
    title = "Payload too large"


class Unauthorized(DomainError):
    """Missing or invalid credentials; `bearer_error` is RFC 6750's `error`, set when a token was sent."""

    status = 401
    type = problem_type("unauthorized")
    title = "Authentication required"

    def __init__(self, detail: str | None = None, *, bearer_error: str | None = None) -> None:
        super().__init__(detail)
        self.bearer_error = bearer_error

    def headers(self) -> dict[str, str]:
        if self.bearer_error is None:
            return {"WWW-Authenticate": "Bearer"}
        return {"WWW-Authenticate": f'Bearer error="{self.bearer_error}"'}


VALIDATION_PROBLEM_TYPE = problem_type("validation-error")
HTTP_PROBLEM_TYPE = "about:blank"
INTERNAL_PROBLEM_TYPE = problem_type("internal-error")


class FieldError(BaseModel):
    field: str = Field(examples=["body.price_ht_cents"])
    message: str
    type: str


class RuleBrokenOut(BaseModel):
    id: str = Field(examples=["R-OFR-3"])
    detail: str
    field: str | None = None


class Problem(BaseModel):
    """The RFC 9457 body every error response has, for OpenAPI (`responses=problem_responses(404, 409)`)."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    rules: list[RuleBrokenOut] | None = None
    errors: list[FieldError] | None = None
    current: str | None = Field(default=None, description="For an invalid transition: the status now.")
    allowed: list[str] | None = Field(default=None, description="For an invalid transition: what it allows.")


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries declaring that these statuses answer with a problem document."""
    return {
        status: {
            "model": Problem,
            "description": _status_phrase(status),
            "content": {PROBLEM_MEDIA_TYPE: {}},
        }
        for status in statuses
    }


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_MEDIA_TYPE


def _request_id_headers() -> dict[str, str]:
    """The request id, for a response sent outside the request-id middleware (the 500 handler's case)."""
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return {"X-Request-ID": request_id} if isinstance(request_id, str) else {}


def _status_phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _field_name(location: Sequence[int | str]) -> str:
    return ".".join(str(part) for part in location)


async def _domain_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, DomainError)
    return ProblemResponse(exc.problem(request.url.path), status_code=exc.status, headers=exc.headers())


async def _validation_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    """Name every invalid field; never echo the input back, it may hold personal data."""
    assert isinstance(exc, RequestValidationError)
    errors = [
        {
            "field": _field_name(error.get("loc", ())),
            "message": error.get("msg", ""),
            "type": error.get("type", ""),
        }
        for error in exc.errors()
    ]
    fields = ", ".join(dict.fromkeys(error["field"] for error in errors))
    noun = "field is" if len(errors) == 1 else "fields are"
    body = {
        "type": VALIDATION_PROBLEM_TYPE,
        "title": "Request validation failed",
        "status": 422,
        "detail": f"{len(errors)} {noun} invalid: {fields}",
        "instance": request.url.path,
        "errors": errors,
    }
    return ProblemResponse(body, status_code=422)


async def _http_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    title = _status_phrase(exc.status_code)
    body = {
        "type": HTTP_PROBLEM_TYPE,
        "title": title,
        "status": exc.status_code,
        "detail": exc.detail if isinstance(exc.detail, str) else title,
        "instance": request.url.path,
    }
    return ProblemResponse(body, status_code=exc.status_code, headers=exc.headers)


async def _unexpected_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    """Log the failure server-side with its traceback; the client gets a generic body and the request id."""
    _log.error("unhandled_exception", method=request.method, path=request.url.path, exc_info=exc)
    body = {
        "type": INTERNAL_PROBLEM_TYPE,
        "title": "Internal server error",
        "status": 500,
        "detail": "An unexpected error occurred and was logged; quote the X-Request-ID header to support.",
        "instance": request.url.path,
    }
    return ProblemResponse(body, status_code=500, headers=_request_id_headers())


UNAVAILABLE_PROBLEM_TYPE = problem_type("service-unavailable")
RETRY_AFTER_SECONDS = 2

_OUTAGES: tuple[type[BaseException], ...] = (
    ConnectionError,  # refused, reset, aborted, broken pipe
    TimeoutError,
    socket.gaierror,
    sqlalchemy.exc.TimeoutError,  # no pooled connection came free in time
    asyncpg.exceptions.ConnectionDoesNotExistError,
    asyncpg.exceptions.ConnectionFailureError,  # SQLSTATE class 08
    asyncpg.exceptions.CannotConnectNowError,  # 57P03: the server is starting or shutting down
    asyncpg.exceptions.OperatorInterventionError,  # 57P01 admin shutdown, 57P02 crash, 57014 timeout
    KafkaConnectionError,
)
_OUTAGE_ENTRY_POINTS: tuple[type[Exception], ...] = (
    OSError,
    sqlalchemy.exc.DBAPIError,
    sqlalchemy.exc.TimeoutError,
    asyncpg.PostgresError,
    asyncpg.InterfaceError,
    KafkaConnectionError,
)


def is_dependency_outage(exc: BaseException) -> bool:
    """True when `exc` says the database or the broker is out of reach (restarting, refusing connections,
    connection lost, pool exhausted), however SQLAlchemy wrapped it: the request may succeed if retried."""
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.connection_invalidated:
        return True
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, _OUTAGES):
            return True
        seen.add(id(current))
        original = getattr(current, "orig", None)
        if isinstance(original, BaseException):
            current = original
        else:
            current = current.__cause__ or current.__context__
    return False


async def _outage_handler(request: Request, exc: Exception) -> ProblemResponse:
    """A dependency that is away is the client's cue to retry, not a bug: 503 with `Retry-After`."""
    if not is_dependency_outage(exc):
        return await _unexpected_error_handler(request, exc)
    _log.warning(
        "dependency_unavailable", method=request.method, path=request.url.path, error=type(exc).__name__
    )
    body = {
        "type": UNAVAILABLE_PROBLEM_TYPE,
        "title": "Service temporarily unavailable",
        "status": 503,
        "detail": "A database or the message broker is out of reach for a moment; retry the request "
        "(with the same Idempotency-Key for a write).",
        "instance": request.url.path,
    }
    headers = {"Retry-After": str(RETRY_AFTER_SECONDS), **_request_id_headers()}
    return ProblemResponse(body, status_code=503, headers=headers)


RULE_VIOLATION_TYPE = problem_type("rule-violation")
INVALID_TRANSITION_TYPE = problem_type("invalid-transition")
NOT_FOUND_TYPE = problem_type("not-found")
CONFLICT_TYPE = problem_type("conflict")


def _rule_out(rule: rules.RuleBroken) -> dict[str, Any]:
    return {"id": rule.rule_id, "detail": rule.message, "field": rule.field}


def rule_error_problem(error: rules.RuleError, instance: str | None = None) -> dict[str, Any]:
    """The problem document of a `servicekit.rules` error: the one translation of the domain's refusals."""
    body: dict[str, Any]
    if isinstance(error, rules.RulesBroken | rules.RuleBroken):
        broken = error.broken if isinstance(error, rules.RulesBroken) else [error]
        body = {
            "type": RULE_VIOLATION_TYPE,
            "title": "Business rule violated",
            "status": 422,
            "detail": "; ".join(f"{rule.rule_id}: {rule.message}" for rule in broken),
            "rules": [_rule_out(rule) for rule in broken],
        }
    elif isinstance(error, rules.InvalidTransition):
        body = {
            "type": INVALID_TRANSITION_TYPE,
            "title": "Not allowed in the current status",
            "status": 409,
            "detail": error.message,
            "current": error.current,
            "allowed": list(error.allowed),
        }
        if error.rule_id:
            body["rules"] = [{"id": error.rule_id, "detail": error.message, "field": None}]
    elif isinstance(error, rules.NotFound):
        body = {"type": NOT_FOUND_TYPE, "title": "Resource not found", "status": 404, "detail": error.message}
    else:
        body = {"type": CONFLICT_TYPE, "title": "Conflict with the current state", "status": 409}
        body["detail"] = error.message
        rule_id = getattr(error, "rule_id", None)
        if rule_id:
            body["rules"] = [{"id": rule_id, "detail": error.message, "field": None}]
    if instance is not None:
        body["instance"] = instance
    return body


async def _rule_error_handler(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, rules.RuleError)
    body = rule_error_problem(exc, request.url.path)
    return ProblemResponse(body, status_code=body["status"])


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error leaving `app` an RFC 9457 problem document."""
    app.add_exception_handler(rules.RuleError, _rule_error_handler)
    app.add_exception_handler(DomainError, _domain_error_handler)
    app.add_exception_handler(RequestValidationError, _validation_error_handler)
    app.add_exception_handler(StarletteHTTPException, _http_error_handler)
    for entry_point in _OUTAGE_ENTRY_POINTS:
        app.add_exception_handler(entry_point, _outage_handler)
    app.add_exception_handler(Exception, _unexpected_error_handler)


NOT_A_PROBLEM = "x-not-a-problem"
"""Mark a declared error response whose body is not a problem document (e.g. `/readyz`'s 503)."""


def use_problem_documents_in_openapi(app: FastAPI) -> None:
    """Document what the handlers really send: every 4xx/5xx as `application/problem+json` with the `Problem`
    schema, FastAPI's default 422 (`HTTPValidationError`) replaced, and 422, 500 and 503 on every route."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        problem_schema = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, definition in problem_schema.pop("$defs", {}).items():
            components.setdefault(name, definition)
        components["Problem"] = problem_schema
        reference = {"$ref": "#/components/schemas/Problem"}
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                if not isinstance(operation, dict) or "responses" not in operation:
                    continue
                responses = operation["responses"]
                responses.setdefault("422", {"description": "Unprocessable Content"})
                responses.setdefault("500", {"description": "Internal Server Error"})
                responses.setdefault("503", {"description": "Service Unavailable"})
                if "requestBody" in operation:  # servicekit.guard limits every body
                    responses.setdefault("413", {"description": "Content Too Large"})
                if any("bearerAuth" in requirement for requirement in operation.get("security", [])):
                    responses.setdefault("401", {"description": "Unauthorized"})
                for status, response in responses.items():
                    if status.isdigit() and int(status) >= 400 and not response.pop(NOT_A_PROBLEM, False):
                        response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": reference}}
        for unused in ("HTTPValidationError", "ValidationError"):
            components.pop(unused, None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
