"""Every route of the service names its roles: no token → 401, a token of a role the route does not grant →
403, and the OpenAPI documents problem responses. The public list is the only unauthenticated data route."""

from __future__ import annotations

import uuid

import pytest

from .conftest import Running

ANY_ID = str(uuid.uuid4())

# path template → (method, the roles it grants, a well-formed body)
MATRIX: dict[tuple[str, str], tuple[set[str], dict[str, object]]] = {
    ("POST", "/v1/dossiers"): ({"elu"}, {"offer_id": ANY_ID, "session_id": ANY_ID}),
    ("GET", "/v1/dossiers"): ({"elu", "organisme", "agent", "ops"}, {}),
    ("GET", "/v1/dossiers/{dossier_id}"): ({"elu", "organisme", "agent", "ops"}, {}),
    ("POST", "/v1/dossiers/{dossier_id}/validation"): ({"organisme"}, {}),
    ("POST", "/v1/dossiers/{dossier_id}/refusal"): ({"elu", "organisme"}, {"reason": "x"}),
    ("POST", "/v1/dossiers/{dossier_id}/cancellation"): ({"elu", "organisme"}, {"reason": "x"}),
    ("POST", "/v1/dossiers/{dossier_id}/entry"): ({"organisme"}, {"date": "2027-03-15"}),
    ("POST", "/v1/dossiers/{dossier_id}/exit"): ({"organisme"}, {"date": "2027-03-15", "hours_attended": 7}),
    ("POST", "/v1/dossiers/{dossier_id}/no-show"): ({"organisme"}, {"reason": "x"}),
    ("POST", "/v1/dossiers/{dossier_id}/acceptance"): ({"elu"}, {}),
    ("POST", "/v1/dossiers/{dossier_id}/evaluation"): ({"elu"}, {"rating": 5}),
    ("POST", "/v1/dossiers/{dossier_id}/controls"): ({"agent"}, {"kind": "quality", "reason": "x"}),
    ("POST", "/v1/controls/{control_id}/decision"): ({"agent"}, {"outcome": "validated", "reason": "x"}),
    ("GET", "/v1/controls"): ({"agent"}, {}),
    ("GET", "/v1/jobs"): ({"agent", "ops"}, {}),
    ("GET", "/v1/jobs/{job_id}"): ({"agent", "ops"}, {}),
}
PUBLIC = {("GET", "/v1/public/financed-trainings"), ("GET", "/v1/public/financed-trainings.csv")}
ROLES = ("elu", "organisme", "collectivite", "agent", "ops")


async def test_the_matrix_covers_every_route_of_the_service(dossier_app: Running) -> None:
    paths = (await dossier_app.client.get("/openapi.json")).json()["paths"]
    routes = {
        (m.upper(), path) for path, methods in paths.items() if path.startswith("/v1/") for m in methods
    }
    assert routes == set(MATRIX) | PUBLIC


@pytest.mark.parametrize(("method", "path"), sorted(MATRIX), ids=lambda v: str(v))
async def test_each_route_refuses_no_token_and_the_roles_it_does_not_grant(
    dossier_app: Running, method: str, path: str
) -> None:
    granted, body = MATRIX[(method, path)]
    url = path.replace("{dossier_id}", ANY_ID).replace("{control_id}", ANY_ID).replace("{job_id}", ANY_ID)
    anonymous = await dossier_app.client.request(method, url, json=body if method == "POST" else None)
    assert anonymous.status_code == 401
    for role in ROLES:
        token = dossier_app.token(
            sub=str(uuid.uuid4()), roles=[role], siret="12345678900011", siren="123456789"
        )
        response = await dossier_app.client.request(
            method, url, json=body if method == "POST" else None, headers={"Authorization": f"Bearer {token}"}
        )
        if role in granted:
            assert response.status_code != 403 or "not yours" in response.text, (role, response.text)
        else:
            assert response.status_code == 403, (role, response.status_code, response.text)


async def test_the_public_list_needs_no_token_and_the_openapi_documents_problems(
    dossier_app: Running,
) -> None:
    assert (await dossier_app.client.get("/v1/public/financed-trainings")).status_code == 200
    openapi = (await dossier_app.client.get("/openapi.json")).json()
    submit = openapi["paths"]["/v1/dossiers"]["post"]
    assert {"401", "403", "409", "422"} <= set(submit["responses"])
