"""The authorization matrix every service tests: each route × no token, each role, two-role tokens, owner.

A service's test declares one `Row` per route (method and path template as in its OpenAPI), an
`identity(role)` (the claims of the caller of each role: `sub`, `siret`, `siren`…) and `path(row, role, own)`
(the route's path filled with a resource that caller owns, or one of somebody else when `own` is false).
`check_matrix` first checks the rows cover exactly the app's routes — a new endpoint cannot be added without
its row — then calls each route with each kind of caller and returns every cell that contradicts its row:

- no token: 401 on a protected route; a public route never answers 401 or 403;
- a role the row does not grant: 403 (also when it comes with another role the row does not grant);
- a granted role on a resource it owns: neither 401 nor 403;
- a role in `owned` on another's resource: 403 or 404, also when the token adds `ops` or `agent` beside it
  (no union of bypasses).

Bodies are not the point here: a request may still answer 404 or 422 where a cell only says "allowed".
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import httpx

ALL_ROLES = ("elu", "organisme", "collectivite", "agent", "ops")
STAFF = frozenset({"agent", "ops"})
DENIED = {401, 403}


@dataclass(frozen=True)
class Row:
    """One route: who may call it, and which roles may act only on what they own."""

    method: str
    path: str
    roles: frozenset[str] = frozenset()
    owned: frozenset[str] = frozenset()
    body: Any = None

    @property
    def public(self) -> bool:
        return not self.roles


def row(method: str, path: str, *roles: str, owned: Iterable[str] = (), body: Any = None) -> Row:
    return Row(method.upper(), path, frozenset(roles), frozenset(owned), body)


def routes_of(
    openapi: dict[str, Any], *, ignore: Iterable[str] = ("/healthz", "/readyz")
) -> set[tuple[str, str]]:
    skipped = set(ignore)
    return {
        (method.upper(), path)
        for path, item in openapi.get("paths", {}).items()
        if path not in skipped
        for method in item
        if method in {"get", "post", "put", "patch", "delete"}
    }


Headers = Callable[..., dict[str, str]]
PathFor = Callable[[Row, str, bool], Awaitable[str]]
Identity = Callable[[str], dict[str, Any]]


@dataclass
class Matrix:
    client: httpx.AsyncClient
    bearer: Headers
    identity: Identity
    path: PathFor
    findings: list[str] = field(default_factory=list)

    def token(self, *roles: str) -> dict[str, str]:
        """A token of `roles` carrying the identity of the first one's caller."""
        return self.bearer(*roles, **self.identity(roles[0]))

    async def call(self, row: Row, path: str, headers: dict[str, str]) -> int:
        kwargs: dict[str, Any] = {"headers": headers}
        if row.method in {"POST", "PUT", "PATCH"}:
            kwargs["json"] = row.body if row.body is not None else {}
        response = await self.client.request(row.method, path, **kwargs)
        return response.status_code

    def expect(self, ok: bool, row: Row, who: str, status: int, wanted: str) -> None:
        if not ok:
            self.findings.append(f"{row.method} {row.path} as {who}: {status}, expected {wanted}")


async def check_matrix(
    client: httpx.AsyncClient,
    rows: list[Row],
    *,
    bearer: Headers,
    identity: Identity,
    path: PathFor,
) -> list[str]:
    """Every contradiction between the rows and the app's answers (empty when the matrix holds)."""
    openapi = (await client.get("/openapi.json")).json()
    declared = {(r.method, r.path) for r in rows}
    served = routes_of(openapi)
    findings = [f"{m} {p}: served but has no row in the matrix" for m, p in sorted(served - declared)]
    findings += [f"{m} {p}: a row for a route the app does not serve" for m, p in sorted(declared - served)]
    matrix = Matrix(client, bearer, identity, path, findings)
    for entry in rows:
        if (entry.method, entry.path) in served:
            await _check_row(matrix, entry)
    return matrix.findings


async def _check_row(matrix: Matrix, entry: Row) -> None:
    any_path = await matrix.path(entry, min(entry.roles, default="agent"), True)
    anonymous = await matrix.call(entry, any_path, {})
    if entry.public:
        matrix.expect(anonymous not in DENIED, entry, "anonymous", anonymous, "a public answer")
        return
    matrix.expect(anonymous == 401, entry, "anonymous", anonymous, "401")
    refused = [role for role in ALL_ROLES if role not in entry.roles]
    for role in refused:
        status = await matrix.call(entry, any_path, matrix.token(role))
        matrix.expect(status == 403, entry, role, status, "403")
    if len(refused) >= 2:
        status = await matrix.call(entry, any_path, matrix.token(*refused[:2]))
        matrix.expect(status == 403, entry, "+".join(refused[:2]), status, "403")
    for role in sorted(entry.roles):
        status = await matrix.call(entry, await matrix.path(entry, role, True), matrix.token(role))
        matrix.expect(status not in DENIED, entry, f"{role} (own)", status, "access")
        if role not in entry.owned:
            continue
        others = await matrix.path(entry, role, False)
        for roles in [(role,), *((role, staff) for staff in sorted(STAFF))]:
            status = await matrix.call(entry, others, matrix.token(*roles))
            matrix.expect(status in {403, 404}, entry, f"{'+'.join(roles)} (other's)", status, "403 or 404")
