"""Read shortcuts: a hot GET answered on its success path without FastAPI's routing and dependency solving.

FastAPI's request path (route matching over every route, solving the dependency tree, its wrappers) costs
more CPU than the whole work of a balance read: a service's hottest reads can name a `ReadShortcut`. The route
stays declared as usual (OpenAPI, the authorization matrix, every answer but success); the shortcut only
answers what the route would answer with a 200:

- the same path and method (GET, no query string), matched with the route's own pattern, its parameters
  validated with the types the route declares;
- the same roles: read from the route's `require_roles(...)` dependency, applied with `acting_with_role`, so
  a token holding two roles gets no union of bypasses here either (a route with any other dependency than
  that and the service's state cannot have a shortcut);
- the principal `servicekit.guard` has already verified from the token;
- the same response model, serialized as FastAPI does (by alias, JSON).

Anything else (no verified principal, a role refused, a malformed path parameter, a missing or foreign
resource, any error at all) is not answered here: the request goes on to the route, which answers it with
its problem document. A GET reads and changes nothing, so answering it a second time is harmless.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter
from fastapi.routing import APIRoute
from prometheus_client import Counter
from pydantic import BaseModel, TypeAdapter
from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.auth import PRINCIPAL_SCOPE_KEY, Principal, acting_with_role, roles_required_by
from servicekit.state import is_state_dependency

Answer = Callable[[Any, Principal, Mapping[str, Any]], Awaitable[BaseModel]]
"""`answer(service_state, principal, path_params)`: the route's response model, or an error (the route then
answers). `path_params` are validated with the route's own annotations (`elu_id: UUID` gives a UUID)."""

SHORTCUT_ANSWERS = Counter(
    "dife_read_shortcut_answers",
    "GET requests answered by a read shortcut (the others of the same route went through FastAPI).",
    ["service", "route"],
)


@dataclass(frozen=True)
class ReadShortcut:
    """`path` is the route's full path as declared (`/v1/accounts/{elu_id}`)."""

    path: str
    answer: Answer


@dataclass(frozen=True)
class _BoundShortcut:
    route: APIRoute
    params: Mapping[str, TypeAdapter[Any]]
    roles: frozenset[str]
    answer: Answer
    serializer: TypeAdapter[Any]
    answered: Any


def bind_read_shortcuts(
    service: str, routers: Sequence[APIRouter], shortcuts: Sequence[ReadShortcut]
) -> list[_BoundShortcut]:
    """Each shortcut tied to its GET route, checked when the app is built: a shortcut naming no route, or a
    route that names no roles, fails the service's start rather than answering what no route declares."""
    routes = {
        route.path: route
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and "GET" in (route.methods or ())
    }
    bound = []
    for shortcut in shortcuts:
        route = routes.get(shortcut.path)
        if route is None:
            raise ValueError(f"read shortcut {shortcut.path}: no GET route with this path on the routers")
        roles = _roles_of(route)
        model = route.response_model
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            raise ValueError(f"read shortcut {shortcut.path}: its route declares no response model")
        bound.append(
            _BoundShortcut(
                route=route,
                params={
                    p.name: TypeAdapter(p.field_info.annotation or str) for p in route.dependant.path_params
                },
                roles=roles,
                answer=shortcut.answer,
                serializer=TypeAdapter(model),
                answered=SHORTCUT_ANSWERS.labels(service, route.path),
            )
        )
    return bound


def _roles_of(route: APIRoute) -> frozenset[str]:
    """The roles of the route's one `require_roles(...)`; its only other dependencies may be the service's
    state, since the shortcut would skip any other (a session, a header check…)."""
    found = []
    for dependency in route.dependant.dependencies:
        roles = roles_required_by(dependency.call) if dependency.call is not None else None
        if roles is not None:
            found.append(roles)
        elif dependency.call is None or not is_state_dependency(dependency.call):
            name = getattr(dependency.call, "__name__", repr(dependency.call))
            raise ValueError(
                f"read shortcut {route.path}: its route takes {name}, which a shortcut would skip"
            )
    if len(found) != 1:
        raise ValueError(f"read shortcut {route.path}: its route must take exactly one require_roles(...)")
    return found[0]


class ReadShortcutMiddleware:
    """Pure ASGI, innermost (after `RequestGuard` has verified the token): see the module docstring."""

    def __init__(self, app: ASGIApp, *, shortcuts: Sequence[_BoundShortcut]) -> None:
        self.app = app
        self.shortcuts = shortcuts

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" and not scope["query_string"]:
            principal = scope.get("state", {}).get(PRINCIPAL_SCOPE_KEY)
            if isinstance(principal, Principal):
                for shortcut in self.shortcuts:
                    match = shortcut.route.path_regex.match(scope["path"])
                    if match is not None:
                        body = await _try(shortcut, scope, principal, match.groupdict())
                        if body is not None:
                            await _send_json(scope, send, shortcut, body)
                            return
                        break
        await self.app(scope, receive, send)


async def _try(
    shortcut: _BoundShortcut, scope: Scope, principal: Principal, params: Mapping[str, str]
) -> bytes | None:
    """The 200 body, or None when the route must answer (refused, malformed, not found, failed)."""
    try:
        acting = acting_with_role(principal, shortcut.roles)
        typed = {name: shortcut.params[name].validate_python(raw) for name, raw in params.items()}
        model = await shortcut.answer(scope["app"].state.kit.service, acting, typed)
        return shortcut.serializer.dump_json(model, by_alias=True)
    except Exception:  # the route answers every non-success, with its own problem document
        return None


async def _send_json(scope: Scope, send: Send, shortcut: _BoundShortcut, body: bytes) -> None:
    scope["route"] = shortcut.route  # the route template labels the request's metrics, as FastAPI's would
    shortcut.answered.inc()
    headers = [(b"content-length", str(len(body)).encode("ascii")), (b"content-type", b"application/json")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
