"""Every exit gives back exactly what was reserved (R-DOS-5), and the acceptance deadline fails an incomplete
plan (R-DOS-1): DIFE release asked of the ledger, envelope budgets back to their values, card refunded."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dife_contracts.enums import CancelledBy, DossierStatus
from dife_contracts.events import DossierCancelled, DossierExpired, DossierRefused, HoldPlaced, HoldReleased
from funding.domain.card import sign
from servicekit.clock import end_of_paris_day
from servicekit.testing import run_due_jobs

AT = datetime(2027, 2, 3, 9, tzinfo=UTC)


async def open_envelope(stack: Any, mode: str = "automatic") -> uuid.UUID:
    response = await stack.client.post(
        "/v1/cofunding-envelopes",
        json={
            "collectivite_code": "31555",
            "deliberation_reference": "DEL-2027-03",
            "deliberation_date": "2027-01-10",
            "budget_cents": 100_000,
            "per_elu_ceiling_cents": 30_000,
            "valid_from": "2027-01-01",
            "valid_until": "2027-12-31",
            "decision_mode": mode,
        },
        headers=stack.collectivite(),
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["envelope_id"])


async def reserved(stack: Any, envelope_id: uuid.UUID) -> tuple[int, int]:
    """(envelope reserved, sum of its élus' reservations)."""
    total = await stack.scalar(
        "SELECT reserved_cents FROM cofunding_envelopes WHERE envelope_id = :e", e=envelope_id
    )
    per_elu = await stack.scalar(
        "SELECT coalesce(sum(reserved_cents), 0) FROM envelope_elu_reservations WHERE envelope_id = :e",
        e=envelope_id,
    )
    return total, per_elu


async def ready_plan_with_three_sources(stack: Any) -> tuple[uuid.UUID, Any, uuid.UUID]:
    """DIFE 50,000 (held) + top-up 30,000 (automatic) + card 20,000 (paid): ready."""
    envelope_id = await open_envelope(stack)
    elu = uuid.uuid4()
    await stack.dispatch(stack.registered(elu))
    await stack.dispatch(stack.credited(elu, 50_000))
    dossier = stack.validated(elu, 100_000)
    await stack.dispatch(dossier)
    await stack.dispatch(
        HoldPlaced(
            elu_id=elu,
            hold_id=uuid.uuid4(),
            dossier_id=dossier.dossier_id,
            amount_cents=50_000,
            available_after_cents=0,
        )
    )
    intent = (
        await stack.client.post(f"/v1/plans/{dossier.dossier_id}/card-payment", headers=stack.elu(elu))
    ).json()
    body = json.dumps(
        {
            "id": "evt_x",
            "type": "payment.succeeded",
            "intent_id": intent["intent_id"],
            "amount_cents": 20_000,
            "provider_reference": "pi_9",
        }
    ).encode()
    signed = sign("psp-secret-current", int(stack.clock.now().timestamp()), body)
    assert (
        await stack.client.post("/v1/psp/notifications", content=body, headers={"Signature": signed})
    ).status_code == 200
    plan = await stack.plan(dossier.dossier_id)
    assert plan["status"] == "ready"
    assert [(line["source"], line["amount_cents"]) for line in plan["lines"]] == [
        ("dife", 50_000),
        ("collectivite", 30_000),
        ("elu_card", 20_000),
    ]
    assert await reserved(stack, envelope_id) == (30_000, 30_000)
    return elu, dossier, envelope_id


def exits(elu: uuid.UUID, dossier_id: uuid.UUID) -> dict[str, Any]:
    return {
        "refused": DossierRefused(
            dossier_id=dossier_id,
            elu_id=elu,
            by=DossierStatus.REFUSED_BY_ELU,
            reason="changed my mind",
            refused_at=AT,
        ),
        "expired": DossierExpired(
            dossier_id=dossier_id, elu_id=elu, expired_status=DossierStatus.VALIDATED, expired_at=AT
        ),
        "cancelled_early": DossierCancelled(
            dossier_id=dossier_id,
            elu_id=elu,
            by=CancelledBy.ELU,
            reason="agenda",
            force_majeure=False,
            rights_consumed=False,
            cancelled_at=AT,
        ),
        "cancelled_by_organisme": DossierCancelled(
            dossier_id=dossier_id,
            elu_id=elu,
            by=CancelledBy.ORGANISME,
            reason="session full",
            force_majeure=False,
            rights_consumed=False,
            cancelled_at=AT,
        ),
    }


@pytest.mark.parametrize("exit_name", ["refused", "expired", "cancelled_early", "cancelled_by_organisme"])
async def test_every_exit_gives_back_every_reserved_line_R_DOS_5(api_only: Any, exit_name: str) -> None:
    elu, dossier, envelope_id = await ready_plan_with_three_sources(api_only)
    await api_only.dispatch(exits(elu, dossier.dossier_id)[exit_name])
    plan = await api_only.plan(dossier.dossier_id)
    assert plan["status"] == "closed"
    assert [line["status"] for line in plan["lines"]] == ["released", "released", "refunded"]
    assert await reserved(api_only, envelope_id) == (0, 0)
    assert (await api_only.outbox(dossier.dossier_id))[-2:] == [
        "dife_release_requested",
        "card_refund_ordered",
    ]
    # the ledger's answer puts the read model back where it was before the plan
    await api_only.dispatch(
        HoldReleased(
            elu_id=elu, hold_id=uuid.uuid4(), dossier_id=dossier.dossier_id, released_cents=50_000, reason="x"
        )
    )
    assert (
        await api_only.scalar("SELECT available_cents FROM dife_balances WHERE elu_id = :e", e=elu) == 50_000
    )


async def test_a_late_cancellation_consumes_the_dife_and_follows_the_policy_for_the_rest_R_DOS_5(
    api_only: Any,
) -> None:
    elu, dossier, envelope_id = await ready_plan_with_three_sources(api_only)
    before = await api_only.outbox(dossier.dossier_id)
    await api_only.dispatch(
        DossierCancelled(
            dossier_id=dossier.dossier_id,
            elu_id=elu,
            by=CancelledBy.ELU,
            reason="late",
            force_majeure=False,
            rights_consumed=True,
            cancelled_at=AT,
        )
    )
    plan = await api_only.plan(dossier.dossier_id)
    assert [line["status"] for line in plan["lines"]] == ["consumed", "released", "refunded"]
    assert await reserved(api_only, envelope_id) == (0, 0)
    # payout's late-cancellation allocation refunds a ready plan's card (refund_ordered): not again here
    assert (await api_only.outbox(dossier.dossier_id))[len(before) :] == []


async def test_with_a_keep_policy_a_late_cancellation_releases_nothing_R_DOS_5(start_funding: Any) -> None:
    policy = {"cofunding": "consume", "card": "keep"}
    async with start_funding(consumers=False, relay_enabled=False, consumed_exit_policy=policy) as stack:
        elu, dossier, envelope_id = await ready_plan_with_three_sources(stack)
        before = await stack.outbox(dossier.dossier_id)
        await stack.dispatch(
            DossierCancelled(
                dossier_id=dossier.dossier_id,
                elu_id=elu,
                by=CancelledBy.ELU,
                reason="no-show",
                force_majeure=False,
                rights_consumed=True,
                cancelled_at=AT,
            )
        )
        plan = await stack.plan(dossier.dossier_id)
        assert [line["status"] for line in plan["lines"]] == ["consumed", "consumed", "consumed"]
        assert await reserved(stack, envelope_id) == (30_000, 30_000)
        assert await stack.outbox(dossier.dossier_id) == before


async def incomplete_plan(stack: Any) -> tuple[Any, uuid.UUID]:
    envelope_id = await open_envelope(stack)
    elu = uuid.uuid4()
    await stack.dispatch(stack.registered(elu))
    await stack.dispatch(stack.credited(elu, 50_000))
    dossier = stack.validated(elu, 100_000)
    await stack.dispatch(dossier)
    return dossier, envelope_id


async def test_the_deadline_fails_an_incomplete_plan_after_its_last_day_not_on_it_R_DOS_1(
    api_only: Any,
) -> None:
    dossier, envelope_id = await incomplete_plan(api_only)
    last_instant = end_of_paris_day(dossier.answer_deadline)
    api_only.clock.set(last_instant - timedelta(seconds=1))
    await run_due_jobs(api_only.app)
    assert (await api_only.plan(dossier.dossier_id))["status"] == "proposed"
    api_only.clock.set(last_instant + timedelta(seconds=1))
    assert await run_due_jobs(api_only.app) == 1
    plan = await api_only.plan(dossier.dossier_id)
    assert plan["status"] == "failed" and "acceptance deadline" in plan["failure_reason"]
    assert await reserved(api_only, envelope_id) == (0, 0)
    assert (await api_only.outbox(dossier.dossier_id))[-2:] == ["dife_release_requested", "plan_failed"]


async def test_a_ready_plan_has_no_deadline_timer_left_R_DOS_1(api_only: Any) -> None:
    _, dossier, envelope_id = await ready_plan_with_three_sources(api_only)
    api_only.clock.set(end_of_paris_day(dossier.answer_deadline) + timedelta(days=1))
    assert await run_due_jobs(api_only.app) == 0
    assert (await api_only.plan(dossier.dossier_id))["status"] == "ready"
    assert await reserved(api_only, envelope_id) == (30_000, 30_000)
