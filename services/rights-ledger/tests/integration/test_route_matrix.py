"""The authorization matrix of every route (servicekit.testing.authz): no token → 401, each role a route does
not grant → 403, a granted role on its own élu (the account its login activated) is let through, an élu on
another élu → 403 (also with agent or ops beside it in the token)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date
from typing import Any

import httpx
from servicekit.testing.authz import Row, check_matrix, row

from .conftest import CM_HEADER, cm_row, csv_file, find_elu, import_rne

STAFF = ("agent", "ops")
ROUX_CLAIMS = {"family_name": "ROUX", "given_name": "Anne", "birthdate": "1972-02-02", "gender": "female"}
ROUX_NIR = "272027511100565"
"""A valid NIR agreeing with Anne Roux: woman (2), born in (19)72, in February (02)."""
ELU_OR_AGENT = ("elu", "agent")

ROWS = [
    row("POST", "/v1/registry/imports", "agent"),
    row("GET", "/v1/registry/imports/{job_id}", "agent"),
    row("GET", "/v1/elus", "agent"),
    row("GET", "/v1/elus/{elu_id}", *ELU_OR_AGENT, owned=["elu"]),
    row("POST", "/v1/elus/{elu_id}/pension-liquidation", "agent", body={"date": "2026-05-01"}),
    row("POST", "/v1/accounts/activation", "elu", body={"nir": "261037511100538"}),
    row("POST", "/v1/accounts/{elu_id}/activation/revocation", "agent", body={"reason": "wrong login"}),
    row("GET", "/v1/accounts/{elu_id}", *ELU_OR_AGENT, owned=["elu"]),
    row("GET", "/v1/accounts/{elu_id}/movements", *ELU_OR_AGENT, owned=["elu"]),
    row("GET", "/v1/accounts/{elu_id}/holds", *ELU_OR_AGENT, owned=["elu"]),
    row("POST", "/v1/accounts/{elu_id}/adjustments", "agent", body={"amount_cents": 100, "reason": "audit"}),
    row("POST", "/v1/accrual-campaigns", *STAFF, body={"family": "municipal", "year": 2026}),
    row("GET", "/v1/accrual-campaigns/{job_id}", *STAFF),
    row("POST", "/v1/expiry-runs", *STAFF, body={"as_of": "2026-01-01"}),
    row("GET", "/v1/expiry-runs/{job_id}", *STAFF),
    row("GET", "/v1/jobs", *STAFF),
    row("GET", "/v1/jobs/{job_id}", *STAFF),
]


async def test_every_route_holds_its_row_of_the_authorization_matrix(
    client: httpx.AsyncClient, agent: dict[str, str], bearer: Callable[..., dict[str, str]]
) -> None:
    await import_rne(
        client,
        agent,
        csv_file(CM_HEADER, cm_row("ROUX", "Anne", "02/02/1972"), cm_row("BLANC", "Luc", "03/03/1973")),
    )
    own = (await find_elu(client, agent, "Roux", "Anne", date(1972, 2, 2)))["elu_id"]
    other = (await find_elu(client, agent, "Blanc", "Luc", date(1973, 3, 3)))["elu_id"]
    # R-ACT-1: an élu's own account is the one its login activated (the élu token's sub is that login).
    activated = await client.post(
        "/v1/accounts/activation", json={"nir": ROUX_NIR}, headers=bearer("elu", sub=own, **ROUX_CLAIMS)
    )
    assert activated.status_code == 200, activated.text

    def identity(role: str) -> dict[str, Any]:
        return {
            "elu": {"sub": own},
            "organisme": {"sub": "of-user", "siret": "12345678900011"},
            "collectivite": {"sub": "collectivite-1", "siren": "123456789"},
        }.get(role, {"sub": f"{role}-1"})

    async def path(entry: Row, role: str, mine: bool) -> str:
        # A revocation by the matrix's agent would unlink the élu's own account from its login: aim at the
        # other élu (never activated: 409 past the authorization check).
        elu_id = own if mine and not entry.path.endswith("/revocation") else other
        filled = entry.path.replace("{elu_id}", elu_id).replace("{job_id}", str(uuid.uuid4()))
        if filled == "/v1/registry/imports":
            return f"{filled}?file_type=cm&snapshot_date=2026-01-15"
        return filled

    findings = await check_matrix(client, ROWS, bearer=bearer, identity=identity, path=path)
    assert findings == []
