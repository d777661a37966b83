"""The élu's card payment and the provider's signed notification, every case (R-FUN-4)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from typing import Any

from dife_contracts.events import HoldPlaced
from funding.domain.card import sign

CURRENT, PREVIOUS = "psp-secret-current", "psp-secret-previous"


async def plan_waiting_for_card(
    stack: Any, price: int = 100_000, available: int = 60_000
) -> tuple[uuid.UUID, Any]:
    """A plan whose DIFE hold is placed; the rest, price − available, is the card's."""
    elu = uuid.uuid4()
    await stack.dispatch(stack.credited(elu, available))
    dossier = stack.validated(elu, price)
    await stack.dispatch(dossier)
    await stack.dispatch(
        HoldPlaced(
            elu_id=elu,
            hold_id=uuid.uuid4(),
            dossier_id=dossier.dossier_id,
            amount_cents=available,
            available_after_cents=0,
        )
    )
    return elu, dossier


async def start_payment(stack: Any, elu: uuid.UUID, dossier_id: uuid.UUID) -> dict[str, Any]:
    response = await stack.client.post(f"/v1/plans/{dossier_id}/card-payment", headers=stack.elu(elu))
    assert response.status_code == 201, response.text
    return dict(response.json())


async def notify(
    stack: Any,
    intent: dict[str, Any],
    *,
    amount: int | None = None,
    secret: str = CURRENT,
    age_s: int = 0,
    notification_id: str = "evt_1",
    body: bytes | None = None,
) -> Any:
    payload = (
        body
        or json.dumps(
            {
                "id": notification_id,
                "type": "payment.succeeded",
                "intent_id": intent["intent_id"],
                "amount_cents": intent["amount_cents"] if amount is None else amount,
                "provider_reference": "pi_3Nx",
            }
        ).encode()
    )
    timestamp = int(stack.clock.now().timestamp()) - age_s
    return await stack.client.post(
        "/v1/psp/notifications",
        content=payload,
        headers={"Signature": sign(secret, timestamp, payload), "Content-Type": "application/json"},
    )


async def test_card_payment_is_an_intent_for_the_exact_remainder_R_FUN_4(api_only: Any) -> None:
    elu, dossier = await plan_waiting_for_card(api_only)
    intent = await start_payment(api_only, elu, dossier.dossier_id)
    assert intent["amount_cents"] == 40_000 and intent["status"] == "pending"
    again = await start_payment(api_only, elu, dossier.dossier_id)
    assert again["intent_id"] == intent["intent_id"]


async def test_card_payment_waits_until_the_dife_hold_is_placed_R_FUN_4(api_only: Any) -> None:
    elu = uuid.uuid4()
    await api_only.dispatch(api_only.credited(elu, 60_000))
    dossier = api_only.validated(elu, 100_000)
    await api_only.dispatch(dossier)
    response = await api_only.client.post(
        f"/v1/plans/{dossier.dossier_id}/card-payment", headers=api_only.elu(elu)
    )
    assert response.status_code == 422 and response.json()["rules"][0]["id"] == "R-FUN-4"


async def test_a_signed_notification_of_the_exact_amount_makes_the_plan_ready_R_FUN_4(api_only: Any) -> None:
    elu, dossier = await plan_waiting_for_card(api_only)
    intent = await start_payment(api_only, elu, dossier.dossier_id)
    response = await notify(api_only, intent)
    assert response.status_code == 200 and response.json() == {"received": True, "replayed": False}
    plan = await api_only.plan(dossier.dossier_id)
    assert plan["status"] == "ready"
    assert plan["lines"][-1] == {
        "source": "elu_card",
        "amount_cents": 40_000,
        "status": "secured",
        "reference": "pi_3Nx",
    }
    assert (await api_only.outbox(dossier.dossier_id))[-2:] == ["card_payment_confirmed", "plan_ready"]


async def test_the_previous_secret_is_still_accepted_during_a_rotation_R_FUN_4(api_only: Any) -> None:
    elu, dossier = await plan_waiting_for_card(api_only)
    intent = await start_payment(api_only, elu, dossier.dossier_id)
    assert (await notify(api_only, intent, secret=PREVIOUS)).status_code == 200


async def test_a_bad_signature_is_401_and_confirms_nothing_R_FUN_4(api_only: Any) -> None:
    elu, dossier = await plan_waiting_for_card(api_only)
    intent = await start_payment(api_only, elu, dossier.dossier_id)
    response = await notify(api_only, intent, secret="not-our-secret")
    assert response.status_code == 401
    assert (await api_only.plan(dossier.dossier_id))["status"] == "proposed"
    unsigned = await api_only.client.post("/v1/psp/notifications", content=b"{}")
    assert unsigned.status_code == 401


async def test_a_notification_five_minutes_old_is_accepted_one_second_more_is_400_R_FUN_4(
    api_only: Any,
) -> None:
    elu, dossier = await plan_waiting_for_card(api_only)
    intent = await start_payment(api_only, elu, dossier.dossier_id)
    stale = await notify(api_only, intent, age_s=301)
    assert stale.status_code == 400
    assert (await api_only.plan(dossier.dossier_id))["status"] == "proposed"
    assert (await notify(api_only, intent, age_s=300)).status_code == 200


async def test_the_same_notification_twice_is_200_without_a_second_effect_R_FUN_4(api_only: Any) -> None:
    elu, dossier = await plan_waiting_for_card(api_only)
    intent = await start_payment(api_only, elu, dossier.dossier_id)
    assert (await notify(api_only, intent)).status_code == 200
    api_only.clock.advance(timedelta(seconds=30))
    replay = await notify(api_only, intent)
    assert replay.status_code == 200 and replay.json()["replayed"] is True
    assert (await api_only.outbox(dossier.dossier_id)).count("card_payment_confirmed") == 1
    assert "card_refund_ordered" not in await api_only.outbox(dossier.dossier_id)


async def test_a_different_amount_is_422_and_confirms_nothing_R_FUN_4(api_only: Any) -> None:
    elu, dossier = await plan_waiting_for_card(api_only)
    intent = await start_payment(api_only, elu, dossier.dossier_id)
    for amount in (39_999, 40_001):
        response = await notify(api_only, intent, amount=amount, notification_id=f"evt_{amount}")
        assert response.status_code == 422 and response.json()["rules"][0]["id"] == "R-FUN-4"
    plan = await api_only.plan(dossier.dossier_id)
    assert plan["status"] == "proposed" and plan["lines"][-1]["status"] == "pending"
    assert "card_payment_confirmed" not in await api_only.outbox(dossier.dossier_id)


async def test_a_signed_body_that_is_not_a_notification_is_422_R_FUN_4(api_only: Any) -> None:
    elu, dossier = await plan_waiting_for_card(api_only)
    intent = await start_payment(api_only, elu, dossier.dossier_id)
    for body in (b"not json", b'{"id": "x\\u0000", "type": "payment.succeeded"}', b'{"amount_cents": 1e400}'):
        assert (await notify(api_only, intent, body=body)).status_code == 422
