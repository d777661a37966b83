"""A collectivité tops up only its own élus (the SIREN must own the envelope's collectivité code) and a themed
envelope serves only trainings of its themes (R-FUN-2), through the API and the consumers."""

from __future__ import annotations

import uuid
from typing import Any

from dife_contracts.enums import FundingSource

SIREN_A, SIREN_B = "213100017", "217500016"
EPCI_SIREN = "200046977"
UNREGISTERED_COMMUNE = "69123"


def envelope_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "collectivite_code": "31555",
        "deliberation_reference": "DEL-2027-05",
        "deliberation_date": "2027-01-10",
        "budget_cents": 100_000,
        "per_elu_ceiling_cents": 30_000,
        "valid_from": "2027-01-01",
        "valid_until": "2027-12-31",
        "decision_mode": "automatic",
    }
    body.update(changes)
    return body


async def post_envelope(stack: Any, siren: str, **changes: Any) -> Any:
    return await stack.client.post(
        "/v1/cofunding-envelopes", json=envelope_body(**changes), headers=stack.collectivite(siren)
    )


def assert_not_owner(response: Any, siren: str, code: str) -> None:
    assert response.status_code == 422, response.text
    assert response.json()["rules"] == [
        {
            "id": "R-FUN-2",
            "detail": f"SIREN {siren} does not own the collectivité code {code}: "
            "a collectivité tops up only its own élus",
            "field": "collectivite_code",
        }
    ]


async def test_an_envelope_for_another_collectivites_code_is_refused_R_FUN_2(api_only: Any) -> None:
    """31555 belongs to SIREN A (the agents' reference): SIREN B may not offer money to its élus."""
    assert_not_owner(await post_envelope(api_only, SIREN_B, collectivite_code="31555"), SIREN_B, "31555")
    assert (await post_envelope(api_only, SIREN_A, collectivite_code="31555")).status_code == 201


async def test_an_unregistered_code_is_refused_until_an_agent_records_its_owner_R_FUN_2(
    api_only: Any,
) -> None:
    refused = await post_envelope(api_only, SIREN_A, collectivite_code=UNREGISTERED_COMMUNE)
    assert_not_owner(refused, SIREN_A, UNREGISTERED_COMMUNE)
    await api_only.own_code(UNREGISTERED_COMMUNE, SIREN_A)
    accepted = await post_envelope(api_only, SIREN_A, collectivite_code=UNREGISTERED_COMMUNE)
    assert accepted.status_code == 201 and accepted.json()["collectivite_code"] == UNREGISTERED_COMMUNE


async def test_an_epci_publishes_for_its_own_siren_and_nobody_else_can_R_FUN_2(api_only: Any) -> None:
    """The RNE names an EPCI by its SIREN: that code is owned by that SIREN without any registration."""
    assert (await post_envelope(api_only, EPCI_SIREN, collectivite_code=EPCI_SIREN)).status_code == 201
    assert_not_owner(
        await post_envelope(api_only, SIREN_A, collectivite_code=EPCI_SIREN), SIREN_A, EPCI_SIREN
    )


async def test_a_code_has_one_owner_a_second_owner_is_a_conflict_R_FUN_2(api_only: Any) -> None:
    again = await api_only.client.put(
        "/v1/collectivite-codes/31555", json={"siren": SIREN_A}, headers=api_only.agent()
    )
    assert again.status_code == 200 and again.json() == {"collectivite_code": "31555", "siren": SIREN_A}
    other = await api_only.client.put(
        "/v1/collectivite-codes/31555", json={"siren": SIREN_B}, headers=api_only.agent()
    )
    assert other.status_code == 409 and "already belongs to SIREN 213100017" in other.json()["detail"]


async def test_an_epcis_siren_cannot_be_registered_to_another_siren_R_FUN_2(api_only: Any) -> None:
    response = await api_only.client.put(
        f"/v1/collectivite-codes/{EPCI_SIREN}", json={"siren": SIREN_A}, headers=api_only.agent()
    )
    assert response.status_code == 422
    assert [(rule["id"], rule["field"]) for rule in response.json()["rules"]] == [
        ("R-FUN-2", "collectivite_code")
    ]


async def test_a_collectivite_reads_its_own_code_not_anothers_and_only_agents_register(api_only: Any) -> None:
    own = await api_only.client.get("/v1/collectivite-codes/31555", headers=api_only.collectivite(SIREN_A))
    assert own.status_code == 200 and own.json()["siren"] == SIREN_A
    other = await api_only.client.get("/v1/collectivite-codes/75056", headers=api_only.collectivite(SIREN_A))
    assert other.status_code == 403
    unknown = await api_only.client.get(
        f"/v1/collectivite-codes/{UNREGISTERED_COMMUNE}", headers=api_only.agent()
    )
    assert unknown.status_code == 404
    by_collectivite = await api_only.client.put(
        f"/v1/collectivite-codes/{UNREGISTERED_COMMUNE}",
        json={"siren": SIREN_A},
        headers=api_only.collectivite(SIREN_A),
    )
    assert by_collectivite.status_code == 403


async def plan_sources(stack: Any, theme_code: str | None) -> list[tuple[str, int]]:
    elu = uuid.uuid4()
    await stack.dispatch(stack.registered(elu))
    dossier = stack.validated(elu, 50_000).model_copy(update={"theme_code": theme_code})
    await stack.dispatch(dossier)
    plan = await stack.plan(dossier.dossier_id)
    return [(line["source"], line["amount_cents"]) for line in plan["lines"]]


async def test_a_themed_envelope_tops_up_a_training_of_its_theme_and_not_another_R_FUN_2(
    api_only: Any,
) -> None:
    assert (await post_envelope(api_only, SIREN_A, themes=["FAL-03", "EP-02"])).status_code == 201
    collectivite, card = FundingSource.COLLECTIVITE.value, FundingSource.ELU_CARD.value
    assert await plan_sources(api_only, "FAL-03") == [(collectivite, 30_000), (card, 20_000)]
    assert await plan_sources(api_only, "FAL-04") == [(card, 50_000)]
    assert await plan_sources(api_only, None) == [(card, 50_000)]


async def test_an_envelope_without_themes_tops_up_every_mandate_training_R_FUN_2(api_only: Any) -> None:
    assert (await post_envelope(api_only, SIREN_A)).status_code == 201
    collectivite, card = FundingSource.COLLECTIVITE.value, FundingSource.ELU_CARD.value
    assert await plan_sources(api_only, "FAL-04") == [(collectivite, 30_000), (card, 20_000)]
