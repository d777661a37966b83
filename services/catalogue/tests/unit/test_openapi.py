"""The OpenAPI document names every error status each operation can answer, as ``application/problem+json``
(issue 8): a client generated from it knows every answer it will get. Generated from the document, so a new
operation needs its row here."""

from __future__ import annotations

from typing import Any

from catalogue.app import create_app
from catalogue.settings import Settings

CREATING = {400, 401, 403, 404, 409, 422}
"""A creating POST: a bad ``Idempotency-Key`` (400), no or a bad token (401), another's resource (403), an
unknown one (404), a key reused with another body or a forbidden step (409), bad input or rules (422)."""
CHANGING = {401, 403, 404, 409, 422}
CHANGING_WITH_BODY = CHANGING | {400}
"""A body that is not even UTF-8 text is a 400."""

EVERYWHERE = {422, 500, 503}
"""servicekit's guard may answer 422 on any route (a NUL byte or a huge integer in the query), any route may
fail, and any route answers 503 while its database or Kafka is out of reach."""
PROBLEM = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}

ERRORS: dict[tuple[str, str], set[int]] = {
    ("GET", "/healthz"): set(),
    ("GET", "/readyz"): {503},
    ("GET", "/v1/themes"): set(),
    ("POST", "/v1/organismes"): {400, 401, 403, 409, 422},
    ("GET", "/v1/organismes/{siret}"): {404, 422},
    ("POST", "/v1/organismes/{siret}/agrements"): CREATING,
    ("POST", "/v1/organismes/{siret}/agrements/{agrement_id}/withdrawal"): CHANGING_WITH_BODY,
    ("GET", "/v1/organismes/{siret}/offers"): {401, 403, 422},
    ("GET", "/v1/offers"): {422},
    ("POST", "/v1/offers"): CREATING,
    ("GET", "/v1/offers/{offer_id}"): {401, 403, 404, 422},
    ("PATCH", "/v1/offers/{offer_id}"): CHANGING_WITH_BODY,
    ("POST", "/v1/offers/{offer_id}/sessions"): CREATING,
    ("POST", "/v1/offers/{offer_id}/publish"): CHANGING,
    ("POST", "/v1/offers/{offer_id}/withdraw"): CHANGING_WITH_BODY,
    ("POST", "/v1/offers/{offer_id}/sessions/{session_id}/cancel"): CHANGING_WITH_BODY,
}


def _document() -> dict[str, Any]:
    app = create_app(Settings(database_url="postgresql+asyncpg://nobody@localhost/none"))
    return app.openapi()


def test_every_operation_documents_each_error_status_it_answers_as_a_problem() -> None:
    operations = {
        (method.upper(), path): operation
        for path, item in _document()["paths"].items()
        for method, operation in item.items()
    }
    assert set(operations) == set(ERRORS)
    for key, operation in operations.items():
        documented = {int(code) for code in operation["responses"] if code.startswith(("4", "5"))}
        guarded = {413} if "requestBody" in operation else set()  # servicekit's guard limits every body
        assert documented == ERRORS[key] | EVERYWHERE | guarded, key
        for code in documented:
            if key != ("GET", "/readyz"):  # /readyz's 503 body is its checks, not a problem
                assert operation["responses"][str(code)]["content"] == PROBLEM, (key, code)


def test_the_idempotency_key_header_is_documented_where_it_is_honoured() -> None:
    paths = _document()["paths"]
    for path, method in [
        ("/v1/organismes", "post"),
        ("/v1/organismes/{siret}/agrements", "post"),
        ("/v1/offers", "post"),
        ("/v1/offers/{offer_id}/sessions", "post"),
    ]:
        headers = [p["name"] for p in paths[path][method].get("parameters", []) if p["in"] == "header"]
        assert headers == ["Idempotency-Key"], (path, headers)


def test_the_search_documents_each_query_parameter_with_its_constraints() -> None:
    """The search reads its query string itself (one validation pass), so its parameters are documented from
    the same model that validates them."""
    parameters = {p["name"]: p for p in _document()["paths"]["/v1/offers"]["get"]["parameters"]}
    assert set(parameters) == {
        "q", "kind", "theme", "department", "region", "modality", "starts_after", "starts_before",
        "max_price_cents", "organisme", "near", "radius_km", "sort", "cursor", "limit",
    }  # fmt: skip
    assert all(p["in"] == "query" and p["required"] is False for p in parameters.values())
    assert parameters["limit"]["schema"]["maximum"] == 100
    assert parameters["limit"]["schema"]["minimum"] == 1
    assert parameters["department"]["schema"]["anyOf"][0]["pattern"] == r"^(\d{2}|2[AB]|97\d)$"
    assert parameters["modality"]["schema"]["anyOf"][0]["enum"] == ["in_person", "remote", "mixed"]
    assert parameters["q"]["description"] == "Words in French; accents optional"
    assert "$ref" not in str(parameters)
