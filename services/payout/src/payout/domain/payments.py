"""A payment to an organisme, from due to settled: a state machine that never pays twice (R-PAY-1, R-PAY-3).

    due ──batch──▶ batched ──send──▶ sent ──settle──▶ settled
     ▲                                 │
     └── rejected ◀──────reject────────┘   (batched again only to newer verified bank details)

Invariant, kept here and by CHECK constraints: 0 ≤ settled ≤ due, and settled = due once the bank accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from uuid import UUID, uuid4

from dife_contracts import Event
from dife_contracts.events import PaymentOrdered, PaymentRejected, PaymentSent, PaymentSettled
from servicekit.rules import InvalidTransition, RuleBroken

from payout.domain.amounts import is_overdue, payment_deadline

END_TO_END_ID_MAX = 35
"""ISO 20022 `EndToEndId` is Max35Text."""


class PaymentStatus(StrEnum):
    DUE = "due"
    BATCHED = "batched"
    SENT = "sent"
    SETTLED = "settled"
    REJECTED = "rejected"


TRANSITIONS: dict[tuple[PaymentStatus, str], PaymentStatus] = {
    (PaymentStatus.DUE, "batch"): PaymentStatus.BATCHED,
    (PaymentStatus.REJECTED, "batch"): PaymentStatus.BATCHED,
    (PaymentStatus.BATCHED, "send"): PaymentStatus.SENT,
    (PaymentStatus.SENT, "settle"): PaymentStatus.SETTLED,
    (PaymentStatus.SENT, "reject"): PaymentStatus.REJECTED,
}
"""(status, action) → status: every pair not listed is refused with `InvalidTransition`."""


def end_to_end_id(dossier_id: UUID, attempt: int) -> str:
    """The id the bank echoes back for one transfer: the dossier and the attempt (a retry is new)."""
    value = f"{dossier_id.hex}-{attempt}"
    if len(value) > END_TO_END_ID_MAX:
        raise RuleBroken("R-PAY-3", f"attempt {attempt} of dossier {dossier_id} has no end-to-end id left")
    return value


@dataclass
class Payment:
    payment_id: UUID
    dossier_id: UUID
    elu_id: UUID
    siret: str
    amount_cents: int
    realisation_percent: int
    validated_on: date
    deadline: date
    status: PaymentStatus = PaymentStatus.DUE
    attempts: int = 0
    batch_id: UUID | None = None
    bank_details_id: UUID | None = None
    end_to_end_id: str | None = None
    settled_cents: int = 0
    settled_on: date | None = None
    rejection_reason: str | None = None
    rejected_on: date | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    @classmethod
    def order(
        cls,
        *,
        dossier_id: UUID,
        elu_id: UUID,
        siret: str,
        amount_cents: int,
        realisation_percent: int,
        validated_on: date,
    ) -> Payment:
        """R-PAY-1, R-PAY-3: the organisme is owed `amount_cents` by the deadline. Nothing is due at 0 %: the
        payment is settled at once, for nothing, so the dossier still reaches its end."""
        payment = cls(
            payment_id=uuid4(),
            dossier_id=dossier_id,
            elu_id=elu_id,
            siret=siret,
            amount_cents=amount_cents,
            realisation_percent=realisation_percent,
            validated_on=validated_on,
            deadline=payment_deadline(validated_on),
        )
        payment.events.append(
            PaymentOrdered(
                dossier_id=dossier_id,
                payment_id=payment.payment_id,
                siret=siret,
                amount_cents=amount_cents,
                realisation_percent=realisation_percent,
                due_date=payment.deadline,
            )
        )
        if amount_cents == 0:
            payment.status = PaymentStatus.SETTLED
            payment.settled_on = validated_on
            payment.events.append(
                PaymentSettled(
                    dossier_id=dossier_id,
                    payment_id=payment.payment_id,
                    amount_cents=0,
                    settled_on=validated_on,
                )
            )
        return payment

    def _move(self, action: str) -> None:
        target = TRANSITIONS.get((self.status, action))
        if target is None:
            allowed = [act for (status, act) in TRANSITIONS if status is self.status]
            raise InvalidTransition(
                current=self.status.value, wanted=action, allowed=allowed, rule_id="R-PAY-3"
            )
        self.status = target

    def is_overdue(self, today: date) -> bool:
        return is_overdue(self.deadline, today, settled=self.status is PaymentStatus.SETTLED)

    def can_be_batched_to(self, bank_details_id: UUID) -> bool:
        """R-PAY-3: a due payment goes to the verified details; a rejected one waits for newer ones."""
        if self.status is PaymentStatus.DUE:
            return True
        return self.status is PaymentStatus.REJECTED and bank_details_id != self.bank_details_id

    def batch(self, *, batch_id: UUID, bank_details_id: UUID) -> str:
        """Put the payment in a credit-transfer batch to verified bank details; returns its end-to-end id."""
        if self.status is PaymentStatus.REJECTED and bank_details_id == self.bank_details_id:
            raise RuleBroken(
                "R-PAY-3", "a rejected payment waits for newly verified bank details before it is sent again"
            )
        self._move("batch")
        self.attempts += 1
        self.batch_id = batch_id
        self.bank_details_id = bank_details_id
        self.end_to_end_id = end_to_end_id(self.dossier_id, self.attempts)
        return self.end_to_end_id

    def send(self, *, sepa_message_id: str) -> None:
        """The batch holding this payment was released to the bank."""
        self._move("send")
        self.events.append(
            PaymentSent(
                dossier_id=self.dossier_id,
                payment_id=self.payment_id,
                siret=self.siret,
                amount_cents=self.amount_cents,
                sepa_message_id=sepa_message_id,
            )
        )

    def settle(self, *, on: date) -> None:
        """The bank accepted the transfer: settled = due, once (a second settle is an invalid transition)."""
        self._move("settle")
        self.settled_cents = self.amount_cents
        self.settled_on = on
        self.events.append(
            PaymentSettled(
                dossier_id=self.dossier_id,
                payment_id=self.payment_id,
                amount_cents=self.amount_cents,
                settled_on=on,
            )
        )

    def reject(self, *, reason_code: str, on: date) -> None:
        """R-PAY-3: the bank returned the transfer; the payment waits for fixed bank details, never lost."""
        self._move("reject")
        self.rejection_reason = reason_code
        self.rejected_on = on
        self.events.append(
            PaymentRejected(
                dossier_id=self.dossier_id,
                payment_id=self.payment_id,
                reason_code=reason_code,
                rejected_on=on,
            )
        )
