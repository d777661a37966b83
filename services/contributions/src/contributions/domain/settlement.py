"""Where a period stands: what was declared, what was paid, whether it is late (R-CON-3, R-CON-4)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

from dife_contracts.enums import PeriodStatus
from dife_contracts.events import PaymentReceived, PeriodLate, PeriodSettled
from dife_contracts.events.contributions import ContributionsEvent
from servicekit.rules import RuleBroken

from contributions.domain.periods import ContributionPeriod

MAX_PAYMENT_CENTS = 1_000_000_000_00
"""One payment of more than a billion euros is a typing error."""


class PaymentSource(StrEnum):
    """How the fund learnt of a payment."""

    API = "api"
    BANK_STATEMENT = "bank_statement"
    MANUAL_ASSIGNMENT = "manual_assignment"


@dataclass(frozen=True, slots=True)
class Payment:
    """Money a collectivité paid for a period; payments are only ever added (R-CON-4)."""

    id: uuid.UUID
    siren: str
    period: ContributionPeriod
    amount_cents: int
    received_on: date
    source: PaymentSource
    bank_credit_id: uuid.UUID | None = None


def status_of(declared_cents: int | None, paid_cents: int, due_date: date, today: date) -> PeriodStatus:
    """R-CON-4: paid when payments equal the declaration, overpaid above it; below it the period is due,
    partially paid once something came in, and late the day after its due date (R-CON-3: paying on the due
    date is on time). A period not declared yet is due, then late, whatever was paid."""
    if declared_cents is not None:
        if paid_cents > declared_cents:
            return PeriodStatus.OVERPAID
        if paid_cents == declared_cents:
            return PeriodStatus.PAID
    if today > due_date:
        return PeriodStatus.LATE
    if declared_cents is not None and paid_cents > 0:
        return PeriodStatus.PARTIALLY_PAID
    return PeriodStatus.DUE


@dataclass(slots=True)
class PeriodAccount:
    """One period of one collectivité: the current declaration's contribution against the payments."""

    siren: str
    period: ContributionPeriod
    due_date: date
    declared_cents: int | None = None
    paid_cents: int = 0
    status: PeriodStatus = PeriodStatus.DUE
    late_notified: bool = False
    events: list[ContributionsEvent] = field(default_factory=list)

    @property
    def outstanding_cents(self) -> int:
        return max((self.declared_cents or 0) - self.paid_cents, 0)

    def record_declaration(self, contribution_cents: int, today: date) -> None:
        """R-CON-4: the newest declaration's contribution is what the payments are compared with."""
        self.declared_cents = contribution_cents
        self._refresh(today, settled=self.paid_cents > 0)

    def record_payment(self, payment: Payment, today: date) -> None:
        """R-CON-4: a payment adds to the period and is compared with its declaration."""
        if not 0 < payment.amount_cents <= MAX_PAYMENT_CENTS:
            raise RuleBroken(
                "R-CON-4",
                f"a payment is between 1 and {MAX_PAYMENT_CENTS} cents, got {payment.amount_cents}",
                field="amount_cents",
            )
        self.paid_cents += payment.amount_cents
        self.events.append(
            PaymentReceived(
                siren=self.siren,
                payment_id=payment.id,
                period=str(self.period),
                amount_cents=payment.amount_cents,
                received_on=payment.received_on,
            )
        )
        self._refresh(today, settled=True)

    def refresh(self, today: date) -> bool:
        """Recompute the status for `today` (the late job); True when it changed."""
        before = self.status
        self._refresh(today, settled=False)
        return self.status != before

    def _refresh(self, today: date, *, settled: bool) -> None:
        """R-CON-3: a period past its due date and not paid becomes late; `period_late` is emitted once."""
        self.status = status_of(self.declared_cents, self.paid_cents, self.due_date, today)
        if settled and self.declared_cents is not None:
            self.events.append(
                PeriodSettled(
                    siren=self.siren,
                    period=str(self.period),
                    status=self.status,
                    declared_cents=self.declared_cents,
                    paid_cents=self.paid_cents,
                )
            )
        if self.status is PeriodStatus.LATE and not self.late_notified:
            self.late_notified = True
            self.events.append(
                PeriodLate(
                    siren=self.siren,
                    period=str(self.period),
                    due_date=self.due_date,
                    outstanding_cents=self.outstanding_cents,
                )
            )
