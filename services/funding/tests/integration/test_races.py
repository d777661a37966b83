"""Races on real PostgreSQL: one élu's rights wanted by two dossiers (R-FUN-1), fifty plans on one envelope
(R-FUN-2). The use cases run as the consumers run them: one transaction each, concurrently."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from dife_contracts.enums import HoldRejectionReason
from dife_contracts.events import DifeHoldRequested, HoldPlaced, HoldRejected
from funding.domain.card import sign
from funding.use_cases import plans, readmodels
from funding.use_cases.ports import Funding


async def in_tx(stack: Any, work: Callable[[Funding], Awaitable[Any]]) -> Any:
    async with stack.sessionmaker.begin() as session:
        return await work(stack.app.state.kit.service.funding_for(session))


async def envelope(
    stack: Any, *, budget: int, ceiling: int, mode: str = "automatic", siren: str = "213100017"
) -> Any:
    response = await stack.client.post(
        "/v1/cofunding-envelopes",
        json={
            "collectivite_code": "31555",
            "deliberation_reference": "DEL-2027-03",
            "deliberation_date": "2027-01-10",
            "budget_cents": budget,
            "per_elu_ceiling_cents": ceiling,
            "valid_from": "2027-01-01",
            "valid_until": "2027-12-31",
            "decision_mode": mode,
        },
        headers=stack.collectivite(siren),
    )
    assert response.status_code == 201, response.text
    return response.json()


async def elu_of_commune(stack: Any, available: int = 0) -> uuid.UUID:
    elu = uuid.uuid4()
    registered = stack.registered(elu)
    await in_tx(stack, lambda f: readmodels.replace_mandates(f, registered, registered.mandates))
    if available:
        await in_tx(stack, lambda f: readmodels.apply_balance_event(f, stack.credited(elu, available)))
    return elu


async def test_fifty_plans_of_fifty_elus_never_overspend_one_envelope_R_FUN_2(api_only: Any) -> None:
    stack = api_only
    env = await envelope(stack, budget=100_000, ceiling=3_000)
    elus = [await elu_of_commune(stack) for _ in range(50)]

    def propose(elu: uuid.UUID) -> Callable[[Funding], Awaitable[Any]]:
        return lambda funding: plans.propose_plan(funding, stack.validated(elu, 5_000))

    results = await asyncio.gather(*(in_tx(stack, propose(e)) for e in elus))
    granted = sorted((line.amount_cents for plan in results for line in plan.topup_lines), reverse=True)
    assert sum(granted) == 100_000 and granted[:33] == [3_000] * 33 and granted[33:] == [1_000]
    reserved = await stack.scalar(
        "SELECT reserved_cents FROM cofunding_envelopes WHERE envelope_id = :e",
        e=uuid.UUID(env["envelope_id"]),
    )
    assert reserved == 100_000
    for plan in results:
        assert sum(line.amount_cents for line in plan.lines) == 5_000


async def test_fifty_plans_of_one_elu_never_pass_the_per_elu_ceiling_R_FUN_2(api_only: Any) -> None:
    stack = api_only
    await envelope(stack, budget=100_000, ceiling=7_000)
    elu = await elu_of_commune(stack)
    results = await asyncio.gather(
        *(in_tx(stack, lambda f: plans.propose_plan(f, stack.validated(elu, 2_000))) for _ in range(50))
    )
    assert sum(line.amount_cents for plan in results for line in plan.topup_lines) == 7_000
    assert (
        await stack.scalar("SELECT reserved_cents FROM envelope_elu_reservations WHERE elu_id = :e", e=elu)
        == 7_000
    )


async def test_two_dossiers_with_rights_for_one_one_gets_the_dife_the_other_completes_by_card_R_FUN_1(
    stack: Any,
) -> None:
    """Both validated at once on real Kafka: the first plan asks the whole balance, the second sees it taken
    (in flight) and asks nothing; when the ledger placed the first hold, the second completes by card."""
    elu = uuid.uuid4()
    await stack.publish(stack.credited(elu, 80_000))
    await stack.wait_available(elu, 80_000)
    first, second = stack.validated(elu, 80_000), stack.validated(elu, 80_000)
    await asyncio.gather(stack.publish(first), stack.publish(second))
    plans_now = [await stack.wait_plan(d.dossier_id, "proposed") for d in (first, second)]
    [winner] = [
        d for d, p in zip((first, second), plans_now, strict=True) if p["lines"][0]["source"] == "dife"
    ]
    loser = second if winner is first else first
    [hold] = await stack.funding_events(1, winner.dossier_id, "dife_hold_requested")
    assert isinstance(hold, DifeHoldRequested) and hold.amount_cents == 80_000
    await stack.publish(
        HoldPlaced(
            elu_id=elu,
            hold_id=uuid.uuid4(),
            dossier_id=winner.dossier_id,
            amount_cents=80_000,
            available_after_cents=0,
        )
    )
    await stack.wait_plan(winner.dossier_id, "ready")
    plan = await stack.plan(loser.dossier_id)
    assert [(line["source"], line["amount_cents"]) for line in plan["lines"]] == [("elu_card", 80_000)]
    intent = await stack.client.post(f"/v1/plans/{loser.dossier_id}/card-payment", headers=stack.elu(elu))
    body = json.dumps(
        {
            "id": "evt_loser",
            "type": "payment.succeeded",
            "intent_id": intent.json()["intent_id"],
            "amount_cents": 80_000,
            "provider_reference": "pi_loser",
        }
    ).encode()
    signature = sign("psp-secret-current", int(stack.clock.now().timestamp()), body)
    paid = await stack.client.post("/v1/psp/notifications", content=body, headers={"Signature": signature})
    assert paid.status_code == 200
    assert (await stack.plan(loser.dossier_id))["status"] == "ready"


async def test_a_hold_rejected_because_the_balance_moved_is_recomputed_with_what_the_ledger_reported_R_FUN_1(
    stack: Any,
) -> None:
    """The read model was stale (another channel took rights): the ledger says 30,000 are left; funding asks
    for exactly that, and the rest goes to the card."""
    elu = uuid.uuid4()
    await stack.publish(stack.credited(elu, 80_000))
    await stack.wait_available(elu, 80_000)
    dossier = stack.validated(elu, 70_000)
    await stack.publish(dossier)
    await stack.funding_events(1, dossier.dossier_id, "dife_hold_requested")
    await stack.publish(
        HoldRejected(
            elu_id=elu,
            dossier_id=dossier.dossier_id,
            requested_cents=70_000,
            available_cents=30_000,
            reason=HoldRejectionReason.INSUFFICIENT_RIGHTS,
            detail="R-FUN-1",
        )
    )
    _, retry = await stack.funding_events(2, dossier.dossier_id, "dife_hold_requested")
    assert retry.amount_cents == 30_000
    plan = await stack.plan(dossier.dossier_id)
    assert [(line["source"], line["amount_cents"]) for line in plan["lines"]] == [
        ("dife", 30_000),
        ("elu_card", 40_000),
    ]


async def test_not_eligible_fails_the_plan_with_a_reason_R_FUN_1(stack: Any) -> None:
    elu = uuid.uuid4()
    await stack.publish(stack.credited(elu, 80_000))
    await stack.wait_available(elu, 80_000)
    dossier = stack.validated(elu, 70_000)
    await stack.publish(dossier)
    await stack.funding_events(1, dossier.dossier_id, "dife_hold_requested")
    await stack.publish(
        HoldRejected(
            elu_id=elu,
            dossier_id=dossier.dossier_id,
            requested_cents=70_000,
            available_cents=80_000,
            reason=HoldRejectionReason.NOT_ELIGIBLE,
            detail="R-END-1",
        )
    )
    plan = await stack.wait_plan(dossier.dossier_id, "failed")
    assert "not eligible" in plan["failure_reason"]
    [failed] = await stack.funding_events(1, dossier.dossier_id, "plan_failed")
    assert "not eligible" in failed.reason


async def test_two_consumers_proposing_at_once_never_ask_the_same_rights_twice_R_FUN_1(api_only: Any) -> None:
    """Two funding instances handle two validations of one élu concurrently: the balance row is locked and
    the in-flight sum read after the lock, so the rights are asked for once."""
    stack = api_only
    elu = await elu_of_commune(stack, available=80_000)
    results = await asyncio.gather(
        *(in_tx(stack, lambda f: plans.propose_plan(f, stack.validated(elu, 80_000))) for _ in range(5))
    )
    dife = [plan.dife_line.amount_cents for plan in results if plan.dife_line is not None]
    assert dife == [80_000]
