"""A DIFE-only plan through real Kafka: validation, hold requested, hold placed, plan ready (R-FUN-1)."""

from __future__ import annotations

import uuid
from typing import Any

from dife_contracts.events import DifeHoldRequested, HoldPlaced, PlanProposed, PlanReady


async def test_dife_only_plan_becomes_ready_through_the_ledger_round_trip_R_FUN_1(stack: Any) -> None:
    elu = uuid.uuid4()
    await stack.publish(stack.credited(elu, 80_000))
    await stack.wait_available(elu, 80_000)
    dossier = stack.validated(elu, 56_000)
    await stack.publish(dossier)

    proposed, hold = await stack.funding_events(2, dossier.dossier_id)
    assert isinstance(proposed, PlanProposed) and isinstance(hold, DifeHoldRequested)
    assert hold.amount_cents == 56_000 and hold.training_start == dossier.training_start
    await stack.publish(
        HoldPlaced(
            elu_id=elu,
            hold_id=uuid.uuid4(),
            dossier_id=dossier.dossier_id,
            amount_cents=56_000,
            available_after_cents=24_000,
        )
    )
    plan = await stack.wait_plan(dossier.dossier_id, "ready")
    assert plan["lines"] == [
        {"source": "dife", "amount_cents": 56_000, "status": "secured", "reference": None}
    ]
    [ready] = await stack.funding_events(1, dossier.dossier_id, "plan_ready")
    assert isinstance(ready, PlanReady) and ready.price_cents == 56_000
    await stack.wait_available(elu, 24_000)
