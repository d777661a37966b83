"""On real PostgreSQL: a smaller DIFE hold is covered by the élu's top-up within its envelope (R-FUN-2), and
the unused part of a top-up goes back to its envelope once payout orders a partial payment (R-PAY-2)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

from dife_contracts.enums import DossierStatus, HoldRejectionReason
from dife_contracts.events import DossierRefused, HoldRejected, PaymentOrdered
from sqlalchemy import text

from .test_exits_and_deadline import open_envelope, ready_plan_with_three_sources, reserved


def rejected(elu: uuid.UUID, dossier_id: uuid.UUID, asked: int, available: int) -> HoldRejected:
    return HoldRejected(
        elu_id=elu,
        dossier_id=dossier_id,
        requested_cents=asked,
        available_cents=available,
        reason=HoldRejectionReason.INSUFFICIENT_RIGHTS,
        detail="R-FUN-1",
    )


async def plan_after_rejection(stack: Any, mode: str) -> tuple[uuid.UUID, Any, uuid.UUID]:
    """Envelope 100 000, ceiling 30 000; DIFE 85 000 of a 100 000 training, top-up 15 000; then the
    ledger reports only 60 000 of DIFE."""
    envelope_id = await open_envelope(stack, mode)
    elu = uuid.uuid4()
    await stack.dispatch(stack.registered(elu))
    await stack.dispatch(stack.credited(elu, 85_000))
    dossier = stack.validated(elu, 100_000)
    await stack.dispatch(dossier)
    assert await reserved(stack, envelope_id) == (15_000, 15_000)
    await stack.dispatch(rejected(elu, dossier.dossier_id, 85_000, 60_000))
    return elu, dossier, envelope_id


async def request_of(stack: Any, dossier_id: uuid.UUID) -> tuple[int, int | None, str]:
    async with stack.sessionmaker() as session:
        row = (
            await session.execute(
                text(
                    "SELECT requested_cents, granted_cents, status FROM cofunding_requests "
                    "WHERE dossier_id = :d"
                ),
                {"d": dossier_id},
            )
        ).one()
    return row.requested_cents, row.granted_cents, row.status


async def test_an_automatic_top_up_grows_to_cover_a_smaller_dife_up_to_the_elus_ceiling_R_FUN_2(
    api_only: Any,
) -> None:
    _, dossier, envelope_id = await plan_after_rejection(api_only, "automatic")
    plan = await api_only.plan(dossier.dossier_id)
    assert [(line["source"], line["amount_cents"], line["status"]) for line in plan["lines"]] == [
        ("dife", 60_000, "pending"),
        ("collectivite", 30_000, "secured"),  # 15 000 more: the élu's ceiling, not the whole 25 000 gap
        ("elu_card", 10_000, "pending"),
    ]
    assert await reserved(api_only, envelope_id) == (30_000, 30_000)
    assert await request_of(api_only, dossier.dossier_id) == (30_000, 30_000, "approved")
    assert (await api_only.outbox(dossier.dossier_id))[-5:] == [
        "plan_proposed",
        "dife_hold_requested",
        "plan_proposed",  # the plan with the grown top-up
        "cofunding_requested",
        "cofunding_decided",
    ]


async def test_a_manual_request_still_pending_is_enlarged_and_decided_on_the_new_amount_R_FUN_2(
    api_only: Any,
) -> None:
    _, dossier, envelope_id = await plan_after_rejection(api_only, "manual")
    assert await request_of(api_only, dossier.dossier_id) == (30_000, None, "pending")
    assert await reserved(api_only, envelope_id) == (30_000, 30_000)
    [request] = (await api_only.client.get("/v1/cofunding-requests", headers=api_only.collectivite())).json()[
        "items"
    ]
    decided = await api_only.client.post(
        f"/v1/cofunding-requests/{request['request_id']}/decision",
        json={"approved": True, "amount_cents": 30_000},
        headers=api_only.collectivite(),
    )
    assert decided.status_code == 200, decided.text
    assert await reserved(api_only, envelope_id) == (30_000, 30_000)


async def test_an_exit_after_a_grown_top_up_gives_back_all_of_it_R_FUN_2_R_DOS_5(api_only: Any) -> None:
    elu, dossier, envelope_id = await plan_after_rejection(api_only, "automatic")
    await api_only.dispatch(
        DossierRefused(
            dossier_id=dossier.dossier_id,
            elu_id=elu,
            by=DossierStatus.REFUSED_BY_ELU,
            reason="changed my mind",
            refused_at=api_only.clock.now(),
        )
    )
    assert await reserved(api_only, envelope_id) == (0, 0)


def ordered(elu: uuid.UUID, dossier_id: uuid.UUID, amount_cents: int, percent: int) -> PaymentOrdered:
    return PaymentOrdered(
        dossier_id=dossier_id,
        payment_id=uuid.uuid4(),
        siret="12345678900011",
        amount_cents=amount_cents,
        realisation_percent=percent,
        due_date=date(2027, 5, 1),
    )


async def test_a_partial_payout_returns_the_unused_top_up_to_the_envelope_and_the_ceiling_R_PAY_2_R_FUN_2(
    api_only: Any,
) -> None:
    elu, dossier, envelope_id = await ready_plan_with_three_sources(api_only)
    assert await api_only.dispatch(ordered(elu, dossier.dossier_id, 60_000, 60))
    assert await reserved(api_only, envelope_id) == (10_000, 10_000)
    assert (await request_of(api_only, dossier.dossier_id))[2] == "consumed"
    plan = await api_only.plan(dossier.dossier_id)
    assert plan["status"] == "closed"
    assert [line["status"] for line in plan["lines"]] == ["secured", "consumed", "released"]
    # a second payment order for the dossier changes nothing
    assert await api_only.dispatch(ordered(elu, dossier.dossier_id, 50_000, 50))
    assert await reserved(api_only, envelope_id) == (10_000, 10_000)


async def test_a_full_payout_keeps_the_whole_top_up_R_PAY_2(api_only: Any) -> None:
    elu, dossier, envelope_id = await ready_plan_with_three_sources(api_only)
    await api_only.dispatch(ordered(elu, dossier.dossier_id, 100_000, 100))
    assert await reserved(api_only, envelope_id) == (30_000, 30_000)
    assert (await api_only.outbox(dossier.dossier_id))[-1] == "plan_ready"  # payout refunds nothing here


async def test_with_a_keep_policy_the_unused_top_up_stays_spent_R_PAY_2(start_funding: Any) -> None:
    async with start_funding(
        consumers=False, relay_enabled=False, settlement_policy={"unused_topup": "keep"}
    ) as stack:
        elu, dossier, envelope_id = await ready_plan_with_three_sources(stack)
        await stack.dispatch(ordered(elu, dossier.dossier_id, 50_000, 50))
        assert await reserved(stack, envelope_id) == (30_000, 30_000)


async def test_a_payment_order_from_another_source_is_not_trusted(stack: Any) -> None:
    elu, dossier, envelope_id = await ready_plan_with_three_sources(stack)
    await stack.publish(ordered(elu, dossier.dossier_id, 0, 0), source="/dife/dossier")
    await stack.publish(ordered(elu, dossier.dossier_id, 60_000, 60))
    await stack.wait_plan(dossier.dossier_id, "closed")
    assert await reserved(stack, envelope_id) == (10_000, 10_000)
