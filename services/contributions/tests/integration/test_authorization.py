"""Who may call what, route by route (servicekit's matrix), and the API fuzzed from its OpenAPI."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from contributions.app import create_app
from servicekit.testing.authz import Row, check_matrix, row
from servicekit.testing.fuzz import fuzz, serve

READERS = ("collectivite", "agent", "ops")
ROWS = [
    row("POST", "/v1/collectivites", "agent"),
    row("POST", "/v1/collectivites/import", "agent"),
    row("GET", "/v1/collectivites/{siren}", *READERS, owned=["collectivite"]),
    row("GET", "/v1/collectivites/{siren}/periods", *READERS, owned=["collectivite"]),
    row("GET", "/v1/collectivites/{siren}/declarations", *READERS, owned=["collectivite"]),
    row("POST", "/v1/collectivites/{siren}/declarations", "collectivite", "agent", owned=["collectivite"]),
    row("POST", "/v1/collectivites/{siren}/payments", "agent"),
    row("POST", "/v1/bank-statements", "agent", "ops"),
    row("GET", "/v1/bank-credits/unmatched", "agent", "ops"),
    row("POST", "/v1/bank-credits/{credit_id}/assignment", "agent"),
    row("GET", "/v1/periods", "agent", "ops"),
    row("GET", "/v1/jobs", "agent", "ops"),
    row("GET", "/v1/jobs/{job_id}", "agent", "ops"),
]


async def test_every_route_answers_only_the_roles_and_owners_it_names(
    contributions: Any, siren: Callable[[], str], bearer: Callable[..., dict[str, str]]
) -> None:
    own, other = siren(), siren()
    for commune in (own, other):
        await contributions.register(commune)

    def identity(role: str) -> dict[str, Any]:
        return {"sub": own, "siren": own} if role == "collectivite" else {}

    async def path(entry: Row, role: str, mine: bool) -> str:
        return (
            entry.path.replace("{siren}", own if mine else other)
            .replace("{credit_id}", str(uuid.uuid4()))
            .replace("{job_id}", str(uuid.uuid4()))
        )

    findings = await check_matrix(contributions.client, ROWS, bearer=bearer, identity=identity, path=path)
    assert findings == []


async def test_the_api_fuzzed_from_its_openapi_has_no_server_error_nor_schema_violation(
    start_contributions: Any, siren: Callable[[], str], mint_token: Callable[..., str]
) -> None:
    async with start_contributions() as contributions:
        commune = siren()
        await contributions.register(commune)
        settings = contributions.settings
    app = create_app(settings, clock=contributions.clock)
    agent = {"Authorization": f"Bearer {mint_token(sub='fuzz-agent', roles=['agent'])}"}
    as_commune = {"Authorization": f"Bearer {mint_token(sub=commune, roles=['collectivite'], siren=commune)}"}

    def headers(method: str, path: str) -> dict[str, str]:
        return as_commune if path.endswith("/declarations") and method == "POST" else agent

    def run() -> list[str]:
        with serve(app) as base_url:
            return [str(finding) for finding in fuzz(base_url, headers=headers, max_examples=15)]

    assert await asyncio.to_thread(run) == []
