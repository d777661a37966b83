"""servicekit's authorization matrix over every funding route, and the API fuzzer over funding's OpenAPI."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from funding.app import create_app
from funding.settings import Settings
from servicekit.testing.authz import Row, check_matrix, row
from servicekit.testing.fuzz import fuzz, serve

ELU_A, ELU_B = uuid.uuid4(), uuid.uuid4()
SIRET_A, SIRET_B = "12345678900011", "98765432100019"
SIREN_A, SIREN_B = "213100017", "217500016"

ROWS = [
    row("GET", "/v1/plans/{dossier_id}", "elu", "organisme", "agent", "ops", owned=["elu", "organisme"]),
    row(
        "POST",
        "/v1/plans/{dossier_id}/external-commitments",
        "elu",
        owned=["elu"],
        body={"source": "cpf", "reference": "CPF-1", "amount_cents": 1},
    ),
    row("POST", "/v1/plans/{dossier_id}/card-payment", "elu", owned=["elu"]),
    row("POST", "/v1/psp/notifications"),
    row("POST", "/v1/cofunding-envelopes", "collectivite"),
    row("GET", "/v1/cofunding-envelopes", "collectivite", "agent", "ops"),
    row(
        "GET", "/v1/cofunding-envelopes/{envelope_id}", "collectivite", "agent", "ops", owned=["collectivite"]
    ),
    row("POST", "/v1/cofunding-envelopes/{envelope_id}/close", "collectivite", owned=["collectivite"]),
    row("GET", "/v1/cofunding-requests", "collectivite", "agent", "ops"),
    row(
        "POST",
        "/v1/cofunding-requests/{request_id}/decision",
        "collectivite",
        owned=["collectivite"],
        body={"approved": False},
    ),
    row("PUT", "/v1/collectivite-codes/{collectivite_code}", "agent", body={"siren": "213100017"}),
    row(
        "GET",
        "/v1/collectivite-codes/{collectivite_code}",
        "collectivite",
        "agent",
        "ops",
        owned=["collectivite"],
    ),
    row("GET", "/v1/jobs", "agent", "ops"),
    row("GET", "/v1/jobs/{job_id}", "agent", "ops"),
]

PSP_UNSIGNED = "POST /v1/psp/notifications as anonymous: 401, expected a public answer"
"""The provider's route takes no token: its signature is its credential; an unsigned call is 401 (R-FUN-4)."""


def identity(role: str) -> dict[str, Any]:
    return {
        "elu": {"sub": str(ELU_A)},
        "organisme": {"sub": SIRET_A, "siret": SIRET_A},
        "collectivite": {"sub": SIREN_A, "siren": SIREN_A},
    }.get(role, {})


async def envelope_of(stack: Any, siren: str, commune: str) -> str:
    response = await stack.client.post(
        "/v1/cofunding-envelopes",
        json={
            "collectivite_code": commune,
            "deliberation_reference": "DEL",
            "deliberation_date": "2027-01-10",
            "budget_cents": 100_000,
            "per_elu_ceiling_cents": 30_000,
            "valid_from": "2027-01-01",
            "valid_until": "2027-12-31",
            "decision_mode": "manual",
        },
        headers=stack.collectivite(siren),
    )
    assert response.status_code == 201, response.text
    return str(response.json()["envelope_id"])


async def test_every_route_answers_as_its_row_of_the_authorization_matrix(
    api_only: Any, bearer: Callable[..., dict[str, str]]
) -> None:
    stack = api_only
    resources: dict[str, dict[bool, str]] = {
        "dossier_id": {},
        "envelope_id": {},
        "request_id": {},
        "collectivite_code": {True: "31555", False: "75056"},
    }
    for own, elu, siret, siren, commune in (
        (True, ELU_A, SIRET_A, SIREN_A, "31555"),
        (False, ELU_B, SIRET_B, SIREN_B, "75056"),
    ):
        resources["envelope_id"][own] = await envelope_of(stack, siren, commune)
        await stack.dispatch(stack.registered(elu, commune))
        dossier = stack.validated(elu, 100_000).model_copy(update={"siret": siret})
        await stack.dispatch(dossier)
        resources["dossier_id"][own] = str(dossier.dossier_id)
        [request] = (
            await stack.client.get("/v1/cofunding-requests", headers=stack.collectivite(siren))
        ).json()["items"]
        resources["request_id"][own] = request["request_id"]

    async def path(entry: Row, role: str, own: bool) -> str:
        filled = entry.path.replace("{job_id}", str(uuid.uuid4()))
        for name, values in resources.items():
            filled = filled.replace("{" + name + "}", values[own])
        return filled

    findings = await check_matrix(stack.client, ROWS, bearer=bearer, identity=identity, path=path)
    assert [finding for finding in findings if finding != PSP_UNSIGNED] == []


async def test_the_api_fuzzer_finds_no_server_error_nor_schema_violation(
    start_funding: Any, bearer: Callable[..., dict[str, str]]
) -> None:
    async with start_funding(consumers=False, relay_enabled=False) as stack:
        settings: Settings = stack.settings
        tokens = {
            "elu": bearer("elu", sub=str(ELU_A)),
            "collectivite": bearer("collectivite", siren=SIREN_A),
            "agent": bearer("agent"),
        }

        def headers(method: str, path: str) -> dict[str, str]:
            if path.startswith("/v1/plans/") and method == "POST":
                return tokens["elu"]
            if path.startswith("/v1/cofunding") and method == "POST":
                return tokens["collectivite"]
            return tokens["agent"]

        def run() -> list[str]:
            with serve(create_app(settings)) as base_url:
                return [str(finding) for finding in fuzz(base_url, headers=headers, max_examples=15)]

        assert await asyncio.to_thread(run) == []
