"""The authorization matrix of every route (servicekit.testing.authz): no token → 401, each role a route does
not grant → 403, a granted role on its own dossier is let through, an élu or OF on another's dossier → 403
(also with agent/ops beside it in the token); and every route's OpenAPI documents its problem answers."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from servicekit.testing.authz import Row, check_matrix, row

from .conftest import Running

OWNERS = ("elu", "organisme")
READERS = ("elu", "organisme", "agent", "ops")
REASON = {"reason": "x"}

ROWS = [
    row("POST", "/v1/dossiers", "elu", body={"offer_id": str(uuid.uuid4()), "session_id": str(uuid.uuid4())}),
    row("GET", "/v1/dossiers", *READERS),
    row("GET", "/v1/dossiers/{dossier_id}", *READERS, owned=OWNERS),
    row("POST", "/v1/dossiers/{dossier_id}/validation", "organisme", owned=["organisme"]),
    row("POST", "/v1/dossiers/{dossier_id}/refusal", *OWNERS, owned=OWNERS, body=REASON),
    row("POST", "/v1/dossiers/{dossier_id}/cancellation", *OWNERS, owned=OWNERS, body=REASON),
    row(
        "POST",
        "/v1/dossiers/{dossier_id}/entry",
        "organisme",
        owned=["organisme"],
        body={"date": "2027-03-15"},
    ),
    row(
        "POST",
        "/v1/dossiers/{dossier_id}/exit",
        "organisme",
        owned=["organisme"],
        body={"date": "2027-03-15", "hours_attended": 7},
    ),
    row("POST", "/v1/dossiers/{dossier_id}/no-show", "organisme", owned=["organisme"], body=REASON),
    row("POST", "/v1/dossiers/{dossier_id}/acceptance", "elu", owned=["elu"]),
    row("POST", "/v1/dossiers/{dossier_id}/evaluation", "elu", owned=["elu"], body={"rating": 5}),
    row("POST", "/v1/dossiers/{dossier_id}/controls", "agent", body={"kind": "quality", "reason": "x"}),
    row("POST", "/v1/controls/{control_id}/decision", "agent", body={"outcome": "validated", "reason": "x"}),
    row("GET", "/v1/controls", "agent"),
    row("GET", "/v1/jobs", "agent", "ops"),
    row("GET", "/v1/jobs/{job_id}", "agent", "ops"),
    row("GET", "/v1/public/financed-trainings"),
    row("GET", "/v1/public/financed-trainings.csv"),
]


async def test_every_route_holds_its_row_of_the_authorization_matrix(
    dossier_app: Running, siret: Callable[[], str], bearer: Callable[..., dict[str, str]]
) -> None:
    app = dossier_app
    of_a, of_b = siret(), siret()
    elu_a, elu_b = await app.elu_with_account(), await app.elu_with_account()
    own = await app.submitted(elu_a, *await app.offer(of_a))
    other = await app.submitted(elu_b, *await app.offer(of_b))

    def identity(role: str) -> dict[str, Any]:
        return {
            "elu": {"sub": str(elu_a)},
            "organisme": {"sub": f"user-{of_a}", "siret": of_a},
            "collectivite": {"sub": "collectivite-1", "siren": "123456789"},
        }.get(role, {"sub": f"{role}-1"})

    async def path(entry: Row, role: str, mine: bool) -> str:
        return (
            entry.path.replace("{dossier_id}", own["id"] if mine else other["id"])
            .replace("{control_id}", str(uuid.uuid4()))
            .replace("{job_id}", str(uuid.uuid4()))
        )

    findings = await check_matrix(app.client, ROWS, bearer=bearer, identity=identity, path=path)
    assert findings == []
    assert (await app.get(other["id"]))["status"] == "submitted"  # nobody but its owners touched it


async def test_the_openapi_documents_the_problem_answers(dossier_app: Running) -> None:
    openapi = (await dossier_app.client.get("/openapi.json")).json()
    submit = openapi["paths"]["/v1/dossiers"]["post"]
    assert {"401", "403", "409", "422"} <= set(submit["responses"])
