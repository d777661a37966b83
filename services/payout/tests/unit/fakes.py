"""In-memory stores for the unit tests of the use cases (the seams of `payout.use_cases.ports`), kept honest
by `tests/integration/test_fakes_contract.py` (the same scenarios on these and on PostgreSQL). Every method
of a port is implemented: a fake that raises on a path no test takes yet would pass until one does."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from payout.adapters.repository import Outcome, Plan
from payout.domain.allocation import Allocation
from payout.domain.batches import Batch, ItemOutcome
from payout.domain.payments import Payment, PaymentStatus


@dataclass
class FakeDossiers:
    plans: dict[UUID, Plan] = field(default_factory=dict)
    outcomes: dict[UUID, Outcome] = field(default_factory=dict)
    shares: dict[UUID, Allocation] = field(default_factory=dict)

    async def lock(self, dossier_id: UUID) -> None:
        return None

    async def save_plan(self, plan: Plan, now: datetime) -> None:
        self.plans[plan.dossier_id] = plan

    async def plan(self, dossier_id: UUID) -> Plan | None:
        return self.plans.get(dossier_id)

    async def record_outcome(self, outcome: Outcome, now: datetime) -> bool:
        if outcome.dossier_id in self.outcomes:
            return False
        self.outcomes[outcome.dossier_id] = outcome
        return True

    async def outcome(self, dossier_id: UUID) -> Outcome | None:
        return self.outcomes.get(dossier_id)

    async def mark_resolved(self, dossier_id: UUID) -> None:
        self.outcomes[dossier_id] = replace(self.outcomes[dossier_id], resolved=True)

    async def save_shares(self, dossier_id: UUID, allocation: Allocation, refund_id: UUID | None) -> None:
        assert dossier_id not in self.shares, "shares recorded twice"
        self.shares[dossier_id] = allocation


@dataclass
class FakePayments:
    rows: dict[UUID, Payment] = field(default_factory=dict)
    verified_details: dict[str, UUID] = field(default_factory=dict)
    """SIRET → the organisme's verified bank details (the real store joins its bank-details table)."""

    async def add(self, payment: Payment, now: datetime) -> None:
        assert all(p.dossier_id != payment.dossier_id for p in self.rows.values()), (
            "two payments for a dossier"
        )
        self.rows[payment.payment_id] = self._stored(payment)

    async def save_many(self, payments: Sequence[Payment]) -> None:
        for payment in payments:
            self.rows[payment.payment_id] = self._stored(payment)

    async def by_ids(self, payment_ids: Sequence[UUID]) -> dict[UUID, Payment]:
        return {pid: self._stored(self.rows[pid]) for pid in payment_ids if pid in self.rows}

    async def batchable(self, limit: int) -> list[tuple[Payment, UUID]]:
        """As `PaymentRepository.batchable`: due payments, and rejected ones whose organisme has newer
        verified details, of a positive amount, each with the verified details to pay into, oldest deadline
        first."""
        found = []
        for payment in sorted(self.rows.values(), key=lambda p: (p.deadline, p.payment_id)):
            details = self.verified_details.get(payment.siret)
            if details is None or payment.amount_cents <= 0:
                continue
            if payment.status is PaymentStatus.DUE or (
                payment.status is PaymentStatus.REJECTED and payment.bank_details_id != details
            ):
                found.append((self._stored(payment), details))
        return found[:limit]

    @staticmethod
    def _stored(payment: Payment) -> Payment:
        """A copy without the recorded events, as a database row would give back."""
        stored = copy.copy(payment)
        stored.events = []
        return stored


@dataclass
class FakeBatches:
    batch: Batch
    outcomes: dict[str, tuple[UUID, ItemOutcome, str | None]] = field(default_factory=dict)
    reports: list[dict[str, int]] = field(default_factory=list)
    documents: dict[UUID, bytes] = field(default_factory=dict)

    async def add(self, batch: Batch, document: bytes) -> None:
        """Keeps the batch as the current one, and its SEPA document."""
        assert batch.batch_id not in self.documents, "a batch added twice"
        self.batch = batch
        self.documents[batch.batch_id] = document

    async def get(self, batch_id: UUID, *, for_update: bool = False) -> Batch | None:
        return self.batch if batch_id == self.batch.batch_id else None

    async def mark_released(self, batch: Batch) -> None:
        self.batch = batch

    async def pending_transfers(self, batch_id: UUID) -> dict[str, UUID]:
        return {
            e2e: pid for e2e, (pid, outcome, _) in self.outcomes.items() if outcome is ItemOutcome.PENDING
        }

    async def transfer_ids(self, batch_id: UUID) -> list[str]:
        return list(self.outcomes)

    async def decide(self, end_to_end_id: str, outcome: ItemOutcome, reason_code: str | None) -> None:
        payment_id, current, _ = self.outcomes[end_to_end_id]
        if current is ItemOutcome.PENDING:
            self.outcomes[end_to_end_id] = (payment_id, outcome, reason_code)

    async def record_report(
        self, *, report_id: UUID, batch_id: UUID, now: datetime, sha256: str, counts: dict[str, int]
    ) -> None:
        self.reports.append(counts)
