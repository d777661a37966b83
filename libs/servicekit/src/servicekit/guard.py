"""What every request passes before a route reads its body: the token, a size limit, then the input's shape.

A pure ASGI middleware, so that an unauthenticated caller cannot make a service read (or parse) a 50 MB body:

1. the path and query may not hold a NUL byte nor an integer PostgreSQL cannot store (|n| ≥ 2^63);
2. a route that needs a token gets it checked first (401 before any body is read); the verified `Principal`
   is handed to the route's dependency, so the token is verified once;
3. the body may not exceed the route's limit (413; `Content-Length` first, then counted as it streams);
4. a JSON body may not hold a NUL character (`\\u0000`, which PostgreSQL text refuses) nor an out-of-range
   integer: 422 naming the field, instead of a database error.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qsl

from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.auth import BEARER_SCHEME_NAME, PRINCIPAL_SCOPE_KEY
from servicekit.errors import (
    PROBLEM_MEDIA_TYPE,
    VALIDATION_PROBLEM_TYPE,
    DomainError,
    PayloadTooLarge,
    Unauthorized,
)

INT64_MAX = 2**63 - 1
DEFAULT_MAX_BODY_BYTES = 1024 * 1024
_LONG_NUMBER = re.compile(rb"\d{19,}")


class _Refused(Exception):
    def __init__(self, status: int, body: dict[str, Any], headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = dict(headers or {})


def _invalid(field: str, message: str, kind: str) -> _Refused:
    return _Refused(
        422,
        {
            "type": VALIDATION_PROBLEM_TYPE,
            "title": "Request validation failed",
            "status": 422,
            "detail": f"1 field is invalid: {field}",
            "errors": [{"field": field, "message": message, "type": kind}],
        },
    )


def _check_text(field: str, value: str) -> None:
    if "\x00" in value:
        raise _invalid(field, "text may not contain a NUL character", "nul_character")
    stripped = value.strip()
    if len(stripped) >= 19 and stripped.lstrip("+-").isdigit() and abs(int(stripped)) > INT64_MAX:
        raise _invalid(field, f"integer out of range (at most {INT64_MAX})", "int_out_of_range")


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    yield path, value
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _walk(item, f"{path}.{key}")
            if isinstance(key, str) and "\x00" in key:
                yield f"{path}.<key>", key
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _walk(item, f"{path}.{index}")


def check_json_body(raw: bytes) -> None:
    """Refuse NUL characters and integers beyond int64 anywhere in a JSON body, naming the field."""
    if b"\\u0000" not in raw and not _LONG_NUMBER.search(raw):
        return
    try:
        document = json.loads(raw)
    except ValueError:
        return  # malformed JSON is the route's validation error (a problem document naming the body)
    for field, value in _walk(document, "body"):
        if isinstance(value, str) and "\x00" in value:
            raise _invalid(field, "text may not contain a NUL character", "nul_character")
        if isinstance(value, int) and not isinstance(value, bool) and abs(value) > INT64_MAX:
            raise _invalid(field, f"integer out of range (at most {INT64_MAX})", "int_out_of_range")


def _check_target(scope: Scope) -> None:
    if "\x00" in scope["path"]:
        raise _invalid("path", "the path may not contain a NUL character", "nul_character")
    raw_query = scope.get("query_string", b"")
    if not raw_query:
        return
    query = raw_query.decode("latin-1")
    for name, value in parse_qsl(query, keep_blank_values=True):
        _check_text(f"query.{name}", value)
        if "\x00" in name:
            raise _invalid("query", "a parameter name may not contain a NUL character", "nul_character")


def _authenticated_operations(app: Any) -> dict[str, re.Pattern[str]]:
    """Per method, one pattern matching every path whose OpenAPI operation needs the bearer token.

    Read from the OpenAPI document rather than the router's internals: it is the public statement of which
    routes are protected, and it stays right however routers are nested. One alternation per method, so a
    request costs one match instead of one per protected route.
    """
    schema = app.openapi() if hasattr(app, "openapi") else {}
    paths: dict[str, list[str]] = {}
    for path, item in schema.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and any(
                BEARER_SCHEME_NAME in requirement for requirement in operation.get("security", [])
            ):
                pattern = _NAMED_GROUP.sub("(?:", compile_path(path)[0].pattern)
                paths.setdefault(method.upper(), []).append(pattern)
    return {method: re.compile("|".join(f"(?:{p})" for p in patterns)) for method, patterns in paths.items()}


_NAMED_GROUP = re.compile(r"\(\?P<[^>]+>")


class RequestGuard:
    """See the module docstring. `body_limits` maps a path prefix to its own limit (file uploads)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
        body_limits: Mapping[str, int] | None = None,
    ) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.body_limits = sorted((body_limits or {}).items(), key=lambda item: -len(item[0]))
        self._authenticated: dict[str, re.Pattern[str]] | None = None

    def _limit_for(self, path: str) -> int:
        return next(
            (limit for prefix, limit in self.body_limits if path.startswith(prefix)), self.max_body_bytes
        )

    def _needs_token(self, scope: Scope) -> bool:
        if self._authenticated is None:
            self._authenticated = _authenticated_operations(scope.get("app"))
        pattern = self._authenticated.get(scope["method"])
        return pattern is not None and pattern.match(scope["path"]) is not None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_target(scope)
            if self._needs_token(scope):
                await self._authenticate(scope)
            limit = self._limit_for(scope["path"])
            declared = _content_length(scope)
            if declared is not None and declared > limit:
                raise _too_large(limit)
            if _is_json(scope) and scope["method"] in {"POST", "PUT", "PATCH"}:
                body = await _read_body(receive, limit)
                check_json_body(body)
                receive = _replay(body)
            else:
                receive = _counting(receive, limit)
        except _Refused as refused:
            await _send_problem(send, scope, refused)
            return
        await self.app(scope, receive, send)

    async def _authenticate(self, scope: Scope) -> None:
        header = _header(scope, b"authorization")
        if header is None or not header.lower().startswith("bearer "):
            raise _problem_of(Unauthorized("a bearer token is required"))
        verifier = getattr(getattr(scope["app"].state, "kit", None), "token_verifier", None)
        if verifier is None:
            return  # an app without the kit's lifespan (unit tests of routers): the dependency decides
        try:
            principal = await verifier.verify(header[7:].strip())
        except DomainError as error:
            raise _problem_of(error) from error
        scope.setdefault("state", {})[PRINCIPAL_SCOPE_KEY] = principal


def _problem_of(error: DomainError) -> _Refused:
    return _Refused(error.status, error.problem(), error.headers())


def _too_large(limit: int) -> _Refused:
    return _problem_of(PayloadTooLarge(f"the body of this request may be at most {limit} bytes"))


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return str(value.decode("latin-1"))
    return None


def _content_length(scope: Scope) -> int | None:
    value = _header(scope, b"content-length")
    return int(value) if value is not None and value.isdigit() else None


def _is_json(scope: Scope) -> bool:
    content_type = (_header(scope, b"content-type") or "").split(";")[0].strip().lower()
    return content_type == "application/json" or content_type.endswith("+json")


async def _read_body(receive: Receive, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if sent:
            return {"type": "http.disconnect"}
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive


def _counting(receive: Receive, limit: int) -> Receive:
    """Pass the body through as it streams, counting; past the limit the route fails with a 413 problem."""
    size = 0

    async def counted() -> Message:
        nonlocal size
        message = await receive()
        if message["type"] == "http.request":
            size += len(message.get("body", b""))
            if size > limit:
                raise PayloadTooLarge(f"the body of this request may be at most {limit} bytes")
        return message

    return counted


async def _send_problem(send: Send, scope: Scope, refused: _Refused) -> None:
    body = dict(refused.body)
    body.setdefault("instance", scope["path"])
    payload = json.dumps(body).encode()
    headers = [
        (b"content-type", PROBLEM_MEDIA_TYPE.encode()),
        (b"content-length", str(len(payload)).encode()),
        *((name.lower().encode(), value.encode()) for name, value in refused.headers.items()),
    ]
    await send({"type": "http.response.start", "status": refused.status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})
