"""Replaying any consumed event changes nothing: the inbox drops a redelivery, and the plan ignores a second
copy of a fact it already applied."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Any

from dife_contracts import Envelope, topics
from dife_contracts.enums import CancelledBy, DossierStatus, HoldRejectionReason
from dife_contracts.events import (
    AccountAdjusted,
    DossierCancelled,
    DossierExpired,
    DossierRefused,
    EluMandatesChanged,
    HoldCaptured,
    HoldPlaced,
    HoldRejected,
    HoldReleased,
    RightsExpired,
)

AT = datetime(2027, 2, 3, 9, tzinfo=UTC)

STATE_SQL = {
    "plans": "SELECT coalesce(string_agg(dossier_id::text || status || lines::text || hold_attempts, ',' "
    "ORDER BY dossier_id), '') FROM plans",
    "balances": "SELECT coalesce(string_agg(elu_id::text || available_cents, ',' ORDER BY elu_id), '') "
    "FROM dife_balances",
    "mandates": "SELECT coalesce(string_agg(elu_id::text || mandates::text, ',' ORDER BY elu_id), '') "
    "FROM elu_mandates",
    "envelopes": "SELECT coalesce(string_agg(envelope_id::text || reserved_cents, ','), '') "
    "FROM cofunding_envelopes",
    "outbox": "SELECT count(*) FROM outbox",
}


async def state(stack: Any) -> dict[str, Any]:
    return {name: await stack.scalar(sql) for name, sql in STATE_SQL.items()}


async def twice(stack: Any, event: Any) -> None:
    envelope = Envelope.wrap(event, source=topics.source_of(event.topic))
    assert await stack.dispatch(event, envelope=envelope) is True
    before = await state(stack)
    assert await stack.dispatch(event, envelope=envelope) is False
    assert await state(stack) == before, type(event).__name__


async def test_every_consumed_event_replayed_through_the_inbox_changes_nothing(api_only: Any) -> None:
    stack = api_only
    elu = uuid.uuid4()
    one, two, three, four = (stack.validated(elu, 30_000) for _ in range(4))
    hold = uuid.uuid4()
    mandates = stack.registered(elu).mandates
    for event in [
        stack.registered(elu),
        EluMandatesChanged(elu_id=elu, mandates=mandates, snapshot_date=date(2027, 1, 1)),
        stack.credited(elu, 80_000),
        AccountAdjusted(
            elu_id=elu, amount_cents=-1_000, reason="fix", balance_after_cents=79_000, by="agent"
        ),
        one,
        HoldPlaced(
            elu_id=elu,
            hold_id=hold,
            dossier_id=one.dossier_id,
            amount_cents=30_000,
            available_after_cents=49_000,
        ),
        two,
        HoldRejected(
            elu_id=elu,
            dossier_id=two.dossier_id,
            requested_cents=30_000,
            available_cents=10_000,
            reason=HoldRejectionReason.INSUFFICIENT_RIGHTS,
            detail="",
        ),
        three,
        four,
        DossierRefused(
            dossier_id=two.dossier_id, elu_id=elu, by=DossierStatus.REFUSED_BY_ELU, reason="no", refused_at=AT
        ),
        DossierExpired(
            dossier_id=three.dossier_id, elu_id=elu, expired_status=DossierStatus.VALIDATED, expired_at=AT
        ),
        DossierCancelled(
            dossier_id=four.dossier_id,
            elu_id=elu,
            by=CancelledBy.ORGANISME,
            reason="x",
            force_majeure=False,
            rights_consumed=False,
            cancelled_at=AT,
        ),
        HoldReleased(
            elu_id=elu, hold_id=uuid.uuid4(), dossier_id=two.dossier_id, released_cents=10_000, reason="x"
        ),
        HoldCaptured(
            elu_id=elu, hold_id=hold, dossier_id=one.dossier_id, captured_cents=20_000, released_cents=10_000
        ),
        RightsExpired(elu_id=elu, amount_cents=5_000, expired_on=date(2027, 6, 1), reason="R-END-1"),
    ]:
        await twice(stack, event)


async def test_a_second_copy_of_a_plan_fact_with_a_new_id_changes_nothing(api_only: Any) -> None:
    stack = api_only
    elu = uuid.uuid4()
    await stack.dispatch(stack.credited(elu, 80_000))
    dossier = stack.validated(elu, 30_000)
    placed = HoldPlaced(
        elu_id=elu,
        hold_id=uuid.uuid4(),
        dossier_id=dossier.dossier_id,
        amount_cents=30_000,
        available_after_cents=50_000,
    )
    refused = DossierRefused(
        dossier_id=dossier.dossier_id, elu_id=elu, by=DossierStatus.REFUSED_BY_ELU, reason="no", refused_at=AT
    )
    for event in (dossier, placed, refused):
        await stack.dispatch(event)
        before = await state(stack)
        await stack.dispatch(event)  # a new envelope id: the inbox lets it through, the plan ignores it
        after = await state(stack)
        assert {k: v for k, v in after.items() if k != "balances"} == {
            k: v for k, v in before.items() if k != "balances"
        }, type(event).__name__


async def test_a_redelivered_ledger_event_on_kafka_counts_once(stack: Any) -> None:
    elu = uuid.uuid4()
    envelope = await stack.publish(stack.credited(elu, 40_000))
    await stack.wait_available(elu, 40_000)
    await stack.replay(envelope)
    await stack.publish(stack.credited(elu, 1))  # same élu, same partition: read after the replay
    await stack.wait_available(elu, 40_001)


async def test_a_ledger_event_from_another_source_or_topic_is_not_believed(stack: Any) -> None:
    """A `hold_placed` claiming to come from the dossier service (or sent on the dossier topic) is
    dead-lettered by the consumer: the plan keeps waiting for the real ledger."""
    elu = uuid.uuid4()
    await stack.publish(stack.credited(elu, 80_000))
    await stack.wait_available(elu, 80_000)
    dossier = stack.validated(elu, 30_000)
    await stack.publish(dossier)
    await stack.wait_plan(dossier.dossier_id, "proposed")
    spoofed = HoldPlaced(
        elu_id=elu,
        hold_id=uuid.uuid4(),
        dossier_id=dossier.dossier_id,
        amount_cents=30_000,
        available_after_cents=0,
    )
    await stack.publish(spoofed, source="/dife/dossier")
    wrong_topic = Envelope.wrap(spoofed, source="/dife/rights-ledger")
    await stack.send_raw(topics.DOSSIER, wrong_topic)
    await stack.publish(stack.credited(elu, 1))  # read after the spoofed one (same topic, one partition)
    sentinel = stack.validated(uuid.uuid4(), 1_000)
    await stack.publish(sentinel)  # read after the one on the wrong topic
    await stack.wait_available(elu, 80_001)
    await stack.wait_plan(sentinel.dossier_id, "proposed")
    assert (await stack.plan(dossier.dossier_id))["status"] == "proposed"
