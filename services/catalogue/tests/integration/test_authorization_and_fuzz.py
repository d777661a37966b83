"""Who may call what, and what no request may provoke: servicekit's authorization matrix (every route × no
token, each role, two-role tokens, own and another organisme's resources) and its OpenAPI fuzzer (no 5xx, no
answer breaking its documented schema or content type), both generated from the app's OpenAPI."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

from catalogue.app import create_app
from servicekit.testing.authz import Row, check_matrix, row
from servicekit.testing.fuzz import fuzz, serve

SELLERS = ("organisme", "agent")

ROWS = [
    row("GET", "/v1/themes"),
    row("GET", "/v1/offers"),
    row("GET", "/v1/offers/{offer_id}"),  # public once published; a draft: see test_offers_api
    row("GET", "/v1/organismes/{siret}"),
    row(
        "POST",
        "/v1/organismes",
        "agent",
        body={"siret": "{new_siret}", "name": "Nouvel OF", "nda": "84691234569"},
    ),
    row(
        "POST",
        "/v1/organismes/{siret}/agrements",
        "agent",
        body={
            "reference": "AGR-MATRIX",
            "decision_date": "2025-01-01",
            "valid_from": "2025-01-01",
            "valid_until": "2030-12-31",
        },
    ),
    row(
        "POST",
        "/v1/organismes/{siret}/agrements/{agrement_id}/withdrawal",
        "agent",
        body={"date": "2030-12-31", "reason": "retrait"},
    ),
    row("GET", "/v1/organismes/{siret}/offers", *SELLERS, owned=["organisme"]),
    # The seller of a new offer is named in the body, not the path: test_offers_api checks another's SIRET.
    row(
        "POST",
        "/v1/offers",
        *SELLERS,
        body={
            "kind": "mandate",
            "title": "Finances locales",
            "theme_code": "FAL-03",
            "hours": 7,
            "price_ht_cents": 56_000,
            "modality": "remote",
            "siret": "{owner}",
        },
    ),
    row(
        "PATCH", "/v1/offers/{offer_id}", *SELLERS, owned=["organisme"], body={"title": "Finances, pas à pas"}
    ),
    row(
        "POST",
        "/v1/offers/{offer_id}/sessions",
        *SELLERS,
        owned=["organisme"],
        body={"start_date": "2027-05-10", "end_date": "2027-05-10", "capacity": 10},
    ),
    row("POST", "/v1/offers/{offer_id}/publish", *SELLERS, owned=["organisme"]),
    row("POST", "/v1/offers/{offer_id}/withdraw", *SELLERS, owned=["organisme"], body={"reason": "fin"}),
    row(
        "POST",
        "/v1/offers/{offer_id}/sessions/{session_id}/cancel",
        *SELLERS,
        owned=["organisme"],
        body={"reason": "annulée"},
    ),
]


@dataclass
class Seller:
    siret: str
    offer_id: str
    session_id: str
    agrement_id: str


async def _seller(catalogue: Any, siret: str) -> Seller:
    await catalogue.accredited(siret)
    offer = await catalogue.offer(siret)
    session = (await catalogue.add_session(offer["id"], siret, start=date(2027, 3, 15))).json()
    agrement_id = (await catalogue.client.get(f"/v1/organismes/{siret}")).json()["agrements"][0]["id"]
    return Seller(siret, offer["id"], session["id"], agrement_id)


def _filled(template: str, seller: Seller) -> str:
    return (
        template.replace("{siret}", seller.siret)
        .replace("{offer_id}", seller.offer_id)
        .replace("{session_id}", seller.session_id)
        .replace("{agrement_id}", seller.agrement_id)
    )


async def test_each_role_reaches_exactly_what_it_is_granted_and_only_its_own(
    catalogue: Any, siret: Callable[[], str], bearer: Callable[..., dict[str, str]]
) -> None:
    owner, other = await _seller(catalogue, siret()), await _seller(catalogue, siret())
    rows = [
        Row(
            r.method,
            r.path,
            r.roles,
            r.owned,
            {
                k: siret() if v == "{new_siret}" else owner.siret if v == "{owner}" else v
                for k, v in r.body.items()
            }
            if r.body
            else r.body,
        )
        for r in ROWS
    ]

    def identity(role: str) -> dict[str, Any]:
        return {
            "organisme": {"sub": owner.siret, "siret": owner.siret},
            "collectivite": {"siren": "213800000"},
            "elu": {"sub": str(uuid.uuid4())},
        }.get(role, {})

    async def path(entry: Row, role: str, own: bool) -> str:
        return _filled(entry.path, owner if own else other)

    findings = await check_matrix(catalogue.client, rows, bearer=bearer, identity=identity, path=path)
    assert findings == []


async def test_no_request_makes_a_5xx_or_breaks_the_documented_answers(
    catalogue: Any, siret: Callable[[], str], bearer: Callable[..., dict[str, str]]
) -> None:
    """The app served for real beside the test's (same database), fuzzed with an organisme's token."""
    owner = await _seller(catalogue, siret())
    headers = bearer("organisme", sub=owner.siret, siret=owner.siret)
    app = create_app(catalogue.settings)

    def run() -> list[str]:
        with serve(app) as base_url:
            return [str(finding) for finding in fuzz(base_url, headers=lambda m, p: headers, max_examples=15)]

    assert await asyncio.to_thread(run) == []
