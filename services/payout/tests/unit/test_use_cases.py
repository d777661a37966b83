"""Use cases on in-memory stores: a dossier is resolved once whatever the order of its plan and outcome
(R-PAY-1, R-PAY-2, R-DOS-5); a status report is applied once (R-PAY-3)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from uuid import uuid4

import pytest
from dife_contracts.enums import FundingSource
from dife_contracts.events import (
    DifeCaptureRequested,
    PaymentOrdered,
    PaymentRejected,
    PaymentSettled,
    RefundOrdered,
)
from payout.adapters.repository import Outcome, Plan
from payout.domain.allocation import PlanLine
from payout.domain.batches import Batch, BatchStatus, ItemOutcome
from payout.domain.payments import Payment, PaymentStatus
from payout.use_cases import batching, settlement
from servicekit.rules import InvalidTransition
from servicekit.testing.fakes import FakeOutbox

from .fakes import FakeBatches, FakeDossiers, FakePayments

NOW = datetime(2027, 1, 15, 9, tzinfo=UTC)


def dossier_facts(percent: int = 70) -> tuple[Plan, Outcome]:
    dossier, elu = uuid4(), uuid4()
    plan = Plan(
        dossier, elu, 80_000, [PlanLine(FundingSource.DIFE, 50_000), PlanLine(FundingSource.ELU_CARD, 30_000)]
    )
    outcome = Outcome(
        dossier, elu, settlement.SERVICE_DONE, "12345678900011", 80_000, percent, date(2027, 1, 14), False
    )
    return plan, outcome


@pytest.mark.parametrize("plan_first", [True, False])
async def test_a_dossier_is_resolved_once_whatever_arrives_first_R_PAY_1_R_PAY_2(plan_first: bool) -> None:
    dossiers, payments, outbox = FakeDossiers(), FakePayments(), FakeOutbox()
    plan, outcome = dossier_facts()
    steps = [
        lambda: settlement.record_plan(dossiers, payments, outbox, plan, NOW),
        lambda: settlement.record_outcome(dossiers, payments, outbox, outcome, NOW),
    ]
    for step in steps if plan_first else reversed(steps):
        await step()
    # Replays of both facts change nothing.
    await settlement.record_plan(dossiers, payments, outbox, plan, NOW)
    await settlement.record_outcome(dossiers, payments, outbox, outcome, NOW)
    assert [type(e) for e in outbox.events] == [DifeCaptureRequested, RefundOrdered, PaymentOrdered]
    assert outbox.of_type(DifeCaptureRequested)[0].amount_cents == 50_000
    assert outbox.of_type(RefundOrdered)[0].amount_cents == 24_000
    assert outbox.of_type(PaymentOrdered)[0].amount_cents == 56_000
    (payment,) = payments.rows.values()
    assert (payment.amount_cents, payment.deadline) == (56_000, date(2027, 2, 13))


async def test_an_outcome_without_its_plan_waits() -> None:
    dossiers, payments, outbox = FakeDossiers(), FakePayments(), FakeOutbox()
    _, outcome = dossier_facts()
    await settlement.record_outcome(dossiers, payments, outbox, outcome, NOW)
    assert outbox.events == [] and payments.rows == {}


async def test_a_late_cancellation_captures_the_dife_line_and_orders_no_payment_R_DOS_5() -> None:
    dossiers, payments, outbox = FakeDossiers(), FakePayments(), FakeOutbox()
    plan, outcome = dossier_facts()
    cancelled = Outcome(
        plan.dossier_id, plan.elu_id, settlement.LATE_CANCELLATION, None, None, None, None, False
    )
    await settlement.record_plan(dossiers, payments, outbox, plan, NOW)
    await settlement.record_outcome(dossiers, payments, outbox, cancelled, NOW)
    await settlement.record_outcome(
        dossiers, payments, outbox, outcome, NOW
    )  # too late: the first outcome counts
    assert [(type(e), e.amount_cents) for e in outbox.events] == [
        (DifeCaptureRequested, 50_000),
        (RefundOrdered, 30_000),
    ]
    assert payments.rows == {}


async def test_at_0_percent_the_payment_is_settled_for_nothing_and_the_whole_hold_released_R_PAY_1() -> None:
    dossiers, payments, outbox = FakeDossiers(), FakePayments(), FakeOutbox()
    plan, outcome = dossier_facts(percent=0)
    await settlement.record_plan(dossiers, payments, outbox, plan, NOW)
    await settlement.record_outcome(dossiers, payments, outbox, outcome, NOW)
    assert outbox.of_type(DifeCaptureRequested)[0].amount_cents == 0
    assert outbox.of_type(PaymentSettled)[0].amount_cents == 0
    assert next(iter(payments.rows.values())).status is PaymentStatus.SETTLED


def sent_payments(count: int) -> tuple[FakePayments, FakeBatches, list[Payment]]:
    batch_id = uuid4()
    batch = Batch(batch_id, "DIFE-20270115-x", NOW, date(2027, 1, 15), status=BatchStatus.RELEASED)
    payments, batches, sent = FakePayments(), FakeBatches(batch), []
    for _ in range(count):
        payment = Payment.order(
            dossier_id=uuid4(),
            elu_id=uuid4(),
            siret="12345678900011",
            amount_cents=10_000,
            realisation_percent=100,
            validated_on=date(2027, 1, 14),
        )
        e2e = payment.batch(batch_id=batch_id, bank_details_id=uuid4())
        payment.send(sepa_message_id=batch.message_id)
        payments.rows[payment.payment_id] = FakePayments._stored(payment)
        batches.outcomes[e2e] = (payment.payment_id, ItemOutcome.PENDING, None)
        sent.append(payment)
    return payments, batches, sent


def report(statuses: list[tuple[str, str, str | None]]) -> bytes:
    lines = "".join(
        f"<TxInfAndSts><OrgnlEndToEndId>{e2e}</OrgnlEndToEndId><TxSts>{code}</TxSts>"
        + (f"<StsRsnInf><Rsn><Cd>{reason}</Cd></Rsn></StsRsnInf>" if reason else "")
        + "</TxInfAndSts>"
        for e2e, code, reason in statuses
    )
    return (
        '<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pain.002.001.03"><CstmrPmtStsRpt>'
        "<OrgnlGrpInfAndSts><OrgnlMsgId>DIFE-20270115-x</OrgnlMsgId></OrgnlGrpInfAndSts>"
        f"<OrgnlPmtInfAndSts>{lines}</OrgnlPmtInfAndSts></CstmrPmtStsRpt></Document>"
    ).encode()


async def test_a_status_report_settles_rejects_and_ignores_unknown_ids_once_R_PAY_3() -> None:
    payments, batches, (accepted, rejected, pending) = sent_payments(3)
    document = report(
        [
            (accepted.end_to_end_id or "", "ACSC", None),
            (rejected.end_to_end_id or "", "RJCT", "AC04"),
            (pending.end_to_end_id or "", "PDNG", None),
            ("unknown-1", "ACSC", None),
        ]
    )
    outbox = FakeOutbox()
    kwargs = {
        "batch_id": batches.batch.batch_id,
        "document": document,
        "now": NOW,
        "today": date(2027, 1, 16),
    }
    first = await batching.import_status_report(payments, batches, outbox, **kwargs)
    assert (first.accepted, first.rejected, first.unchanged, first.unknown_end_to_end_ids) == (
        1,
        1,
        1,
        ["unknown-1"],
    )
    assert [e.ce_type for e in outbox.events] == [PaymentSettled.ce_type, PaymentRejected.ce_type]
    assert payments.rows[accepted.payment_id].settled_cents == 10_000
    assert payments.rows[rejected.payment_id].rejection_reason == "AC04"
    assert payments.rows[pending.payment_id].status is PaymentStatus.SENT
    second = await batching.import_status_report(payments, batches, outbox, **kwargs)
    assert (second.accepted, second.rejected, second.unchanged) == (0, 0, 3)
    assert len(outbox.events) == 2


async def test_a_report_on_a_batch_not_released_is_refused_R_PAY_3() -> None:
    payments, batches, _ = sent_payments(1)
    batches.batch.status = BatchStatus.BUILT
    with pytest.raises(InvalidTransition):
        await batching.import_status_report(
            payments,
            batches,
            FakeOutbox(),
            batch_id=batches.batch.batch_id,
            document=report([]),
            now=NOW,
            today=date(2027, 1, 16),
        )
