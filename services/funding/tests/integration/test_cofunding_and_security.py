"""Envelopes and manual decisions (R-FUN-2), external commitments (R-FUN-3), and who may see or do what."""

from __future__ import annotations

import uuid
from typing import Any

from dife_contracts.enums import TrainingPurpose
from dife_contracts.events import HoldPlaced

SIREN_A, SIREN_B = "213100017", "217500016"


def envelope_body(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "collectivite_code": "31555",
        "deliberation_reference": "DEL-2027-03",
        "deliberation_date": "2027-01-10",
        "budget_cents": 100_000,
        "per_elu_ceiling_cents": 30_000,
        "valid_from": "2027-01-01",
        "valid_until": "2027-12-31",
        "decision_mode": "manual",
    }
    body.update(changes)
    return body


async def create(stack: Any, siren: str = SIREN_A, **changes: Any) -> dict[str, Any]:
    response = await stack.client.post(
        "/v1/cofunding-envelopes", json=envelope_body(**changes), headers=stack.collectivite(siren)
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


async def pending_request(stack: Any) -> tuple[uuid.UUID, Any, dict[str, Any], dict[str, Any]]:
    envelope = await create(stack)
    elu = uuid.uuid4()
    await stack.dispatch(stack.registered(elu))
    await stack.dispatch(stack.credited(elu, 50_000))
    dossier = stack.validated(elu, 100_000)
    await stack.dispatch(dossier)
    listed = await stack.client.get("/v1/cofunding-requests", headers=stack.collectivite(SIREN_A))
    [request] = [r for r in listed.json()["items"] if r["dossier_id"] == str(dossier.dossier_id)]
    return elu, dossier, envelope, request


async def test_an_envelope_is_published_for_the_tokens_own_siren_with_its_idempotency_key_R_FUN_2(
    api_only: Any,
) -> None:
    headers = {**api_only.collectivite(SIREN_A), "Idempotency-Key": "env-1"}
    first = await api_only.client.post("/v1/cofunding-envelopes", json=envelope_body(), headers=headers)
    again = await api_only.client.post("/v1/cofunding-envelopes", json=envelope_body(), headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json() and first.json()["siren"] == SIREN_A
    other = await api_only.client.post(
        "/v1/cofunding-envelopes", json=envelope_body(budget_cents=5), headers=headers
    )
    assert other.status_code == 409


async def test_an_envelope_breaking_its_rules_is_422_naming_them_R_FUN_2(api_only: Any) -> None:
    response = await api_only.client.post(
        "/v1/cofunding-envelopes",
        json=envelope_body(per_elu_ceiling_cents=100_001, deliberation_date="2027-12-01"),
        headers=api_only.collectivite(),
    )
    assert response.status_code == 422
    assert {rule["id"] for rule in response.json()["rules"]} == {"R-FUN-2"}


async def test_bad_input_is_a_422_never_a_500(api_only: Any) -> None:
    for body in (
        envelope_body(budget_cents=10**30),
        envelope_body(budget_cents=1.5),
        envelope_body(budget_cents="100"),
        envelope_body(deliberation_reference="DEL\x00"),
        envelope_body(valid_from="not a date"),
    ):
        response = await api_only.client.post(
            "/v1/cofunding-envelopes", json=body, headers=api_only.collectivite()
        )
        assert response.status_code == 422, body


async def test_a_manual_request_waits_for_the_collectivite_and_a_partial_grant_returns_the_rest_R_FUN_2(
    api_only: Any,
) -> None:
    _, dossier, envelope, request = await pending_request(api_only)
    assert request["requested_cents"] == 30_000 and request["status"] == "pending"
    plan = await api_only.plan(dossier.dossier_id)
    assert "the collectivité's decision on its top-up" in plan["missing"]
    decided = await api_only.client.post(
        f"/v1/cofunding-requests/{request['request_id']}/decision",
        json={"approved": True, "amount_cents": 20_000},
        headers=api_only.collectivite(SIREN_A),
    )
    assert decided.status_code == 200 and decided.json()["granted_cents"] == 20_000
    read = await api_only.client.get(
        f"/v1/cofunding-envelopes/{envelope['envelope_id']}", headers=api_only.collectivite()
    )
    assert read.json()["reserved_cents"] == 20_000 and read.json()["remaining_cents"] == 80_000
    plan = await api_only.plan(dossier.dossier_id)
    assert [(line["source"], line["amount_cents"], line["status"]) for line in plan["lines"]] == [
        ("dife", 50_000, "pending"),
        ("collectivite", 20_000, "secured"),
        ("elu_card", 30_000, "pending"),
    ]
    again = await api_only.client.post(
        f"/v1/cofunding-requests/{request['request_id']}/decision",
        json={"approved": True, "amount_cents": 1},
        headers=api_only.collectivite(SIREN_A),
    )
    assert again.status_code == 409


async def test_granting_more_than_asked_is_refused_R_FUN_2(api_only: Any) -> None:
    _, _, _, request = await pending_request(api_only)
    response = await api_only.client.post(
        f"/v1/cofunding-requests/{request['request_id']}/decision",
        json={"approved": True, "amount_cents": 30_001},
        headers=api_only.collectivite(SIREN_A),
    )
    assert response.status_code == 422 and response.json()["rules"][0]["id"] == "R-FUN-2"


async def test_a_closed_envelope_serves_no_new_plan_R_FUN_2(api_only: Any) -> None:
    envelope = await create(api_only, decision_mode="automatic")
    closed = await api_only.client.post(
        f"/v1/cofunding-envelopes/{envelope['envelope_id']}/close", headers=api_only.collectivite()
    )
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    elu = uuid.uuid4()
    await api_only.dispatch(api_only.registered(elu))
    dossier = api_only.validated(elu, 10_000)
    await api_only.dispatch(dossier)
    plan = await api_only.plan(dossier.dossier_id)
    assert [line["source"] for line in plan["lines"]] == ["elu_card"]


async def test_a_reinsertion_training_gets_no_top_up_but_takes_cpf_with_its_reference_R_FUN_2_R_FUN_3(
    api_only: Any,
) -> None:
    await create(api_only, decision_mode="automatic")
    elu = uuid.uuid4()
    await api_only.dispatch(api_only.registered(elu))
    await api_only.dispatch(api_only.credited(elu, 50_000))
    dossier = api_only.validated(elu, 100_000, TrainingPurpose.REINSERTION)
    await api_only.dispatch(dossier)
    plan = await api_only.plan(dossier.dossier_id)
    assert [line["source"] for line in plan["lines"]] == ["dife", "elu_card"]
    response = await api_only.client.post(
        f"/v1/plans/{dossier.dossier_id}/external-commitments",
        json={"source": "cpf", "reference": "CPF-2027-889", "amount_cents": 50_000},
        headers={**api_only.elu(elu), "Idempotency-Key": "cpf-1"},
    )
    assert response.status_code == 201, response.text
    assert response.json()["lines"][1] == {
        "source": "cpf",
        "amount_cents": 50_000,
        "status": "secured",
        "reference": "CPF-2027-889",
    }
    await api_only.dispatch(
        HoldPlaced(
            elu_id=elu,
            hold_id=uuid.uuid4(),
            dossier_id=dossier.dossier_id,
            amount_cents=50_000,
            available_after_cents=0,
        )
    )
    assert (await api_only.plan(dossier.dossier_id))["status"] == "ready"


async def test_elu_b_cannot_read_or_act_on_elu_as_plan(api_only: Any) -> None:
    elu_a, elu_b = uuid.uuid4(), uuid.uuid4()
    dossier = api_only.validated(elu_a, 10_000)
    await api_only.dispatch(dossier)
    path = f"/v1/plans/{dossier.dossier_id}"
    assert (await api_only.client.get(path, headers=api_only.elu(elu_a))).status_code == 200
    assert (await api_only.client.get(path, headers=api_only.elu(elu_b))).status_code == 403
    assert (
        await api_only.client.post(f"{path}/card-payment", headers=api_only.elu(elu_b))
    ).status_code == 403
    cpf = {"source": "cpf", "reference": "X", "amount_cents": 1}
    response = await api_only.client.post(
        f"{path}/external-commitments", json=cpf, headers=api_only.elu(elu_b)
    )
    assert response.status_code == 403
    assert (await api_only.client.get(path)).status_code == 401


async def test_the_organisme_sees_only_whether_its_dossiers_plan_is_ready(api_only: Any) -> None:
    dossier = api_only.validated(uuid.uuid4(), 10_000)
    await api_only.dispatch(dossier)
    path = f"/v1/plans/{dossier.dossier_id}"
    own = await api_only.client.get(path, headers=api_only.organisme())
    assert own.status_code == 200 and own.json() == {"dossier_id": str(dossier.dossier_id), "ready": False}
    assert (await api_only.client.get(path, headers=api_only.organisme("98765432100019"))).status_code == 403


async def test_collectivite_b_cannot_read_list_close_or_decide_for_collectivite_a(api_only: Any) -> None:
    _, _, envelope, request = await pending_request(api_only)
    b = api_only.collectivite(SIREN_B)
    assert (
        await api_only.client.get(f"/v1/cofunding-envelopes/{envelope['envelope_id']}", headers=b)
    ).status_code == 403
    assert (
        await api_only.client.post(f"/v1/cofunding-envelopes/{envelope['envelope_id']}/close", headers=b)
    ).status_code == 403
    assert (
        await api_only.client.get(f"/v1/cofunding-envelopes?siren={SIREN_A}", headers=b)
    ).status_code == 403
    assert (await api_only.client.get("/v1/cofunding-envelopes", headers=b)).json()["items"] == []
    assert (await api_only.client.get("/v1/cofunding-requests", headers=b)).json()["items"] == []
    decision = await api_only.client.post(
        f"/v1/cofunding-requests/{request['request_id']}/decision", json={"approved": False}, headers=b
    )
    assert decision.status_code == 403
    mine = await api_only.client.get("/v1/cofunding-envelopes", headers=api_only.collectivite(SIREN_A))
    assert [e["envelope_id"] for e in mine.json()["items"]] == [envelope["envelope_id"]]


async def test_an_elu_or_a_siren_less_token_cannot_publish_an_envelope(api_only: Any) -> None:
    elu = await api_only.client.post(
        "/v1/cofunding-envelopes", json=envelope_body(), headers=api_only.elu(uuid.uuid4())
    )
    assert elu.status_code == 403
    token = api_only.token(sub="x", roles=["collectivite"])
    no_siren = await api_only.client.post(
        "/v1/cofunding-envelopes", json=envelope_body(), headers={"Authorization": f"Bearer {token}"}
    )
    assert no_siren.status_code == 403


async def test_malformed_queries_and_paths_are_4xx_and_the_openapi_document_builds(api_only: Any) -> None:
    headers = api_only.agent()
    for path in (
        "/v1/cofunding-envelopes?cursor=garbage",
        "/v1/cofunding-envelopes?limit=0",
        "/v1/cofunding-envelopes?siren=12%00",
        "/v1/cofunding-requests?status=whatever",
        "/v1/plans/not-a-uuid",
        "/v1/cofunding-envelopes/not-a-uuid",
    ):
        response = await api_only.client.get(path, headers=headers)
        assert 400 <= response.status_code < 500, path
    assert (await api_only.client.get(f"/v1/plans/{uuid.uuid4()}", headers=headers)).status_code == 404
    response = await api_only.client.post(
        f"/v1/plans/{uuid.uuid4()}/external-commitments",
        json={"source": "cpf", "reference": "x" * 1_000_000, "amount_cents": 1},
        headers=api_only.elu(uuid.uuid4()),
    )
    assert response.status_code == 422
    document = await api_only.client.get("/openapi.json")
    assert document.status_code == 200 and "/v1/psp/notifications" in document.json()["paths"]
