"""Who may call what: every route of the app × every kind of caller, generated from the app's routes.

A route missing from ``WHO_MAY`` fails the first test: a new endpoint cannot ship without its row. Ownership
is decided from the role that grants access to the endpoint, never from the union of a token's roles: an
``organisme`` B token that also carries ``ops`` is still organisme B, and ``ops`` alone is no organisme.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from catalogue.app import create_app

PUBLIC = frozenset({"anonymous", "elu", "collectivite", "ops", "agent", "owner", "other", "other+ops"})
SELLERS = frozenset({"owner", "agent"})
AGENTS = frozenset({"agent"})

WHO_MAY: dict[tuple[str, str], frozenset[str]] = {
    ("GET", "/healthz"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    ("GET", "/v1/themes"): PUBLIC,
    ("POST", "/v1/organismes"): AGENTS,
    ("GET", "/v1/organismes/{siret}"): PUBLIC,
    ("POST", "/v1/organismes/{siret}/agrements"): AGENTS,
    ("POST", "/v1/organismes/{siret}/agrements/{agrement_id}/withdrawal"): AGENTS,
    ("GET", "/v1/organismes/{siret}/offers"): SELLERS,
    ("GET", "/v1/offers"): PUBLIC,
    ("POST", "/v1/offers"): SELLERS,
    ("GET", "/v1/offers/{offer_id}"): SELLERS,  # a draft; a published offer is public
    ("PATCH", "/v1/offers/{offer_id}"): SELLERS,
    ("POST", "/v1/offers/{offer_id}/sessions"): SELLERS,
    ("POST", "/v1/offers/{offer_id}/publish"): SELLERS,
    ("POST", "/v1/offers/{offer_id}/withdraw"): SELLERS,
    ("POST", "/v1/offers/{offer_id}/sessions/{session_id}/cancel"): SELLERS,
}
"""Who is let through each route (on the resources of organisme ``owner``)."""

DENIED = frozenset({401, 403, 404})


@dataclass
class Fixture:
    owner: str
    offer_id: str
    session_id: str
    agrement_id: str


def _operations(app: Any) -> set[tuple[str, str]]:
    """Every operation the app serves, from its OpenAPI document (``/metrics`` is left out of it)."""
    paths = app.openapi()["paths"]
    return {(method.upper(), path) for path, item in paths.items() for method in item}


async def test_every_route_has_its_row_in_the_matrix(catalogue: Any) -> None:
    assert _operations(create_app(catalogue.settings)) == set(WHO_MAY)


def _headers(catalogue: Any, caller: str, owner: str, other: str) -> dict[str, str]:
    roles_and_claims: dict[str, tuple[list[str], dict[str, str]]] = {
        "elu": (["elu"], {}),
        "collectivite": (["collectivite"], {"siren": "213800000"}),
        "ops": (["ops"], {}),
        "agent": (["agent"], {}),
        "owner": (["organisme"], {"siret": owner}),
        "other": (["organisme"], {"siret": other}),
        "other+ops": (["organisme", "ops"], {"siret": other}),
    }
    if caller == "anonymous":
        return {}
    roles, claims = roles_and_claims[caller]
    sub = claims.get("siret", str(uuid.uuid4()))
    return {"Authorization": f"Bearer {catalogue.token(sub=sub, roles=roles, **claims)}"}


def _request(method: str, path: str, fixture: Fixture, new_siret: str) -> tuple[str, dict[str, Any] | None]:
    """The URL and a valid body of a call on the owner's resources (so only authorization can refuse it)."""
    url = (
        path.replace("{siret}", fixture.owner)
        .replace("{offer_id}", fixture.offer_id)
        .replace("{session_id}", fixture.session_id)
        .replace("{agrement_id}", fixture.agrement_id)
    )
    bodies: dict[tuple[str, str], dict[str, Any]] = {
        ("POST", "/v1/organismes"): {"siret": new_siret, "name": "Nouvel OF", "nda": "84691234569"},
        ("POST", "/v1/organismes/{siret}/agrements"): {
            "reference": f"AGR-{uuid.uuid4().hex[:8]}",
            "decision_date": "2025-01-01",
            "valid_from": "2025-01-01",
            "valid_until": "2030-12-31",
        },
        ("POST", "/v1/organismes/{siret}/agrements/{agrement_id}/withdrawal"): {
            "date": "2030-12-31",
            "reason": "retrait",
        },
        ("POST", "/v1/offers"): {
            "kind": "mandate",
            "title": "Finances locales",
            "theme_code": "FAL-03",
            "hours": 7,
            "price_ht_cents": 56_000,
            "modality": "remote",
            "siret": fixture.owner,
        },
        ("PATCH", "/v1/offers/{offer_id}"): {"title": "Finances locales, pas à pas"},
        ("POST", "/v1/offers/{offer_id}/sessions"): {
            "start_date": "2027-05-10",
            "end_date": "2027-05-10",
            "capacity": 10,
        },
        ("POST", "/v1/offers/{offer_id}/withdraw"): {"reason": "fin"},
        ("POST", "/v1/offers/{offer_id}/sessions/{session_id}/cancel"): {"reason": "annulée"},
    }
    return url, bodies.get((method, path))


async def test_each_caller_reaches_exactly_the_routes_its_role_grants(
    catalogue: Any, siret: Callable[[], str]
) -> None:
    callers = sorted(PUBLIC)
    failures: list[str] = []
    for (method, path), allowed in sorted(WHO_MAY.items()):
        owner, other = await catalogue.accredited(siret()), siret()
        await catalogue.register(other, "Concurrent")
        draft = await catalogue.offer(owner)
        session = (await catalogue.add_session(draft["id"], owner, start=date(2027, 3, 15))).json()
        agrement_id = (await catalogue.client.get(f"/v1/organismes/{owner}")).json()["agrements"][0]["id"]
        fixture = Fixture(owner, draft["id"], session["id"], agrement_id)
        # Those refused first, so that an allowed call (a withdrawal, say) cannot change what they see.
        for caller in sorted(callers, key=lambda c: (c in allowed, c)):
            url, body = _request(method, path, fixture, siret())
            headers = _headers(catalogue, caller, owner, other)
            response = await catalogue.client.request(method, url, json=body, headers=headers)
            refused = response.status_code in DENIED
            if refused == (caller in allowed) or response.status_code >= 500:
                failures.append(f"{method} {path} as {caller}: {response.status_code} {response.text[:120]}")
    assert failures == []
