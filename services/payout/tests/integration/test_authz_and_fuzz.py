"""Every route × every kind of caller (servicekit's authorization matrix), and the API fuzzed from its own
OpenAPI: no 5xx, no response outside its documented schema."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from payout.app import create_app
from payout.settings import Settings
from servicekit.testing import migrate
from servicekit.testing.authz import Row, check_matrix, row
from servicekit.testing.fuzz import fuzz, serve

from .conftest import ALEMBIC_INI, BICS, IBANS, Payout

BANK_DETAILS = {"iban": IBANS[0], "bic": BICS[0], "holder_name": "Institut X"}

ROWS = [
    row("GET", "/v1/organismes/{siret}/bank-details", "organisme", "agent", owned=["organisme"]),
    row(
        "POST",
        "/v1/organismes/{siret}/bank-details",
        "organisme",
        "agent",
        owned=["organisme"],
        body=BANK_DETAILS,
    ),
    row("GET", "/v1/bank-details", "agent"),
    row("POST", "/v1/bank-details/{details_id}/decision", "agent", body={"decision": "refuse"}),
    row("GET", "/v1/payments", "organisme", "agent", owned=["organisme"]),
    row("GET", "/v1/payments/{payment_id}", "organisme", "agent", owned=["organisme"]),
    row("POST", "/v1/payment-batches", "ops", "agent"),
    row("GET", "/v1/payment-batches", "ops", "agent"),
    row("GET", "/v1/payment-batches/{batch_id}", "ops", "agent"),
    row("GET", "/v1/payment-batches/{batch_id}/file", "ops", "agent"),
    row("POST", "/v1/payment-batches/{batch_id}/release", "ops", "agent"),
    row("POST", "/v1/payment-batches/{batch_id}/status-report", "ops", "agent"),
    row("GET", "/v1/fund/position", "agent", "ops"),
    row("GET", "/v1/jobs", "agent", "ops"),
    row("GET", "/v1/jobs/{job_id}", "agent", "ops"),
]


async def test_the_authorization_matrix_holds(
    payout: Payout, siret: Callable[[], str], bearer: Callable[..., dict[str, str]]
) -> None:
    own, other = siret(), siret()
    payments = {of: (await payout.payment_of(await payout.order(of)))["id"] for of in (own, other)}
    details = await payout.verified_payee(other)

    def identity(role: str) -> dict[str, Any]:
        return {"sub": f"of-{own}", "siret": own} if role == "organisme" else {}

    async def path(entry: Row, role: str, mine: bool) -> str:
        of = own if mine else other
        filled = (
            entry.path.replace("{siret}", of)
            .replace("{payment_id}", payments[of])
            .replace("{details_id}", details["id"])
            .replace("{batch_id}", str(uuid.uuid4()))
            .replace("{job_id}", str(uuid.uuid4()))
        )
        if entry.path == "/v1/payments" and not mine:
            return f"{filled}?siret={other}"
        if entry.path == "/v1/fund/position":
            return f"{filled}?from=2027-01-01&to=2027-12-31"
        return filled

    findings = await check_matrix(payout.client, ROWS, bearer=bearer, identity=identity, path=path)
    assert findings == []


async def test_fuzzing_the_api_finds_no_server_error_nor_schema_violation(
    database_factory: Callable[[], Any],
    kit_overrides: Callable[[str], dict[str, Any]],
    bearer: Callable[..., dict[str, str]],
) -> None:
    url = await database_factory()
    await migrate(ALEMBIC_INI, url)
    app = create_app(Settings(**kit_overrides(url), batch_job_enabled=False))
    staff = bearer("agent", "ops", sub="fuzz-agent")

    def run() -> list[str]:
        with serve(app) as base_url:
            return [str(f) for f in fuzz(base_url, headers=lambda method, path: staff, max_examples=15)]

    assert await asyncio.to_thread(run) == []
