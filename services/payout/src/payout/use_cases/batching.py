"""SEPA batches: build (one transaction), release, and apply the bank's status report (R-PAY-3).

Building records the batch, its transfers, its encrypted pain.001 file and the payments marked `batched` in
the caller's ONE transaction: a crash before the commit leaves every payment due (rebuilt next time), a crash
after leaves them batched in exactly one batch (a unique index allows one live transfer per payment).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID, uuid4

from dife_contracts import Event
from servicekit.outbox import Outbox
from servicekit.rules import InvalidTransition, NotFound, RuleBroken

from payout.adapters.pain002 import parse_pain002
from payout.adapters.sepa import Debtor, build_pain001
from payout.domain.batches import (
    DEFAULT_REJECTION_CODE,
    Batch,
    BatchStatus,
    ItemOutcome,
    Transfer,
    TransferStatus,
    message_id,
)
from payout.domain.payees import BankDetails
from payout.use_cases.ports import BankDetailsStore, BatchStore, PaymentStore


async def build_batch(
    payments: PaymentStore,
    details: BankDetailsStore,
    batches: BatchStore,
    *,
    debtor: Debtor,
    now: datetime,
    today: date,
    max_payments: int,
) -> Batch | None:
    """Every payable payment (due, or rejected with newer verified details) in one validated pain.001."""
    candidates = await payments.batchable(max_payments)
    if not candidates:
        return None
    batch_id = uuid4()
    batch = Batch(
        batch_id=batch_id, message_id=message_id(batch_id, today), created_at=now, execution_date=today
    )
    known: dict[UUID, BankDetails] = {}
    for payment, details_id in candidates:
        account = known.get(details_id) or await details.get(details_id)
        if account is None or not account.is_verified:
            continue  # R-PAY-3: never to unverified details (the query already filters; this is the guard)
        known[details_id] = account
        e2e = payment.batch(batch_id=batch_id, bank_details_id=details_id)
        batch.transfers.append(
            Transfer(
                payment_id=payment.payment_id,
                dossier_id=payment.dossier_id,
                end_to_end_id=e2e,
                amount_cents=payment.amount_cents,
                creditor_name=account.holder_name,
                iban=account.iban,
                bic=account.bic,
                bank_details_id=details_id,
            )
        )
    if not batch.transfers:
        return None
    batch.payment_count = len(batch.transfers)
    batch.total_cents = sum(item.amount_cents for item in batch.transfers)
    document = build_pain001(batch, debtor)
    await batches.add(batch, document)
    await payments.save_many([payment for payment, _ in candidates if payment.batch_id == batch_id])
    return batch


async def release_batch(
    payments: PaymentStore, batches: BatchStore, outbox: Outbox, *, batch_id: UUID, now: datetime
) -> Batch:
    """The validated file goes to the bank: its payments are `sent` (payment_sent each)."""
    batch = await batches.get(batch_id, for_update=True)
    if batch is None:
        raise NotFound(f"no payment batch {batch_id}")
    batch.release(now)
    pending = await batches.pending_transfers(batch_id)
    by_id = await payments.by_ids(list(pending.values()))
    events: list[Event] = []
    for payment in by_id.values():
        payment.send(sepa_message_id=batch.message_id)
        events.extend(payment.events)
    await payments.save_many(list(by_id.values()))
    await batches.mark_released(batch)
    await outbox.add_many(events)
    return batch


@dataclass
class ReportResult:
    batch_id: UUID
    accepted: int = 0
    rejected: int = 0
    unchanged: int = 0
    unknown_end_to_end_ids: list[str] = field(default_factory=list)


async def import_status_report(
    payments: PaymentStore,
    batches: BatchStore,
    outbox: Outbox,
    *,
    batch_id: UUID,
    document: bytes,
    now: datetime,
    today: date,
) -> ReportResult:
    """R-PAY-3: accepted transfers settle (settled = due), rejected ones wait for fixed bank details; a
    transfer already decided is left alone, so importing the same report twice changes nothing."""
    batch = await batches.get(batch_id, for_update=True)
    if batch is None:
        raise NotFound(f"no payment batch {batch_id}")
    if batch.status is not BatchStatus.RELEASED:
        raise InvalidTransition(
            current=batch.status.value,
            wanted="import a status report",
            allowed=("release",),
            rule_id="R-PAY-3",
        )
    report = parse_pain002(document)
    if report.original_message_id != batch.message_id:
        raise RuleBroken(
            "R-PAY-3",
            f"the report answers {report.original_message_id!r}, not this batch's {batch.message_id!r}",
            field="file",
        )
    verdicts, unknown = report.verdicts(await batches.transfer_ids(batch_id))
    pending = await batches.pending_transfers(batch_id)
    by_id = await payments.by_ids(list(pending.values()))
    result = ReportResult(batch_id=batch_id, unknown_end_to_end_ids=unknown)
    for verdict in verdicts:
        payment_id = pending.pop(verdict.end_to_end_id, None)
        if payment_id is None or verdict.status is TransferStatus.PENDING:
            result.unchanged += 1
            continue
        payment = by_id[payment_id]
        if verdict.status is TransferStatus.ACCEPTED:
            payment.settle(on=today)
            await batches.decide(verdict.end_to_end_id, ItemOutcome.ACCEPTED, None)
            result.accepted += 1
        else:
            reason = verdict.reason_code or DEFAULT_REJECTION_CODE
            payment.reject(reason_code=reason, on=today)
            await batches.decide(verdict.end_to_end_id, ItemOutcome.REJECTED, reason)
            result.rejected += 1
    changed = [payment for payment in by_id.values() if payment.events]
    await payments.save_many(changed)
    await outbox.add_many([event for payment in changed for event in payment.events])
    await batches.record_report(
        report_id=uuid4(),
        batch_id=batch_id,
        now=now,
        sha256=hashlib.sha256(document).hexdigest(),
        counts={
            "accepted": result.accepted,
            "rejected": result.rejected,
            "unchanged": result.unchanged,
            "unknown": len(unknown),
        },
    )
    return result
