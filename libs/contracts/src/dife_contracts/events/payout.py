"""Events of the payment of organismes for validated services (key: dossier_id)."""

from datetime import date
from typing import Annotated, ClassVar
from uuid import UUID

from pydantic import StringConstraints

from dife_contracts import topics
from dife_contracts.event import Event
from dife_contracts.money import Cents
from dife_contracts.values import RealisationPercent, Siret

SepaReasonCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9]{4}$")]
"""ISO 20022 status reason code of a rejected transfer, e.g. `AC04` (closed account)."""


class PayoutEvent(Event):
    """An event about paying the organisme of one dossier, keyed by dossier_id."""

    topic: ClassVar[str] = topics.PAYOUT
    key_field: ClassVar[str] = "dossier_id"

    dossier_id: UUID


class PaymentOrdered(PayoutEvent):
    """The organisme is owed price × taux de réalisation, to be paid by `due_date` (R-PAY-1, R-PAY-3)."""

    ce_type: ClassVar[str] = "dife.payout.payment_ordered.v1"

    payment_id: UUID
    siret: Siret
    amount_cents: Cents
    realisation_percent: RealisationPercent
    due_date: date


class DifeCaptureRequested(PayoutEvent):
    """Payout asks the ledger to spend this much of the dossier's hold and release the rest (R-PAY-2)."""

    ce_type: ClassVar[str] = "dife.payout.dife_capture_requested.v1"

    elu_id: UUID
    amount_cents: Cents


class PaymentSent(PayoutEvent):
    """The transfer left in a SEPA credit transfer file (pain.001) (R-PAY-3)."""

    ce_type: ClassVar[str] = "dife.payout.payment_sent.v1"

    payment_id: UUID
    siret: Siret
    amount_cents: Cents
    sepa_message_id: str


class PaymentSettled(PayoutEvent):
    """The bank confirmed the transfer reached the organisme."""

    ce_type: ClassVar[str] = "dife.payout.payment_settled.v1"

    payment_id: UUID
    amount_cents: Cents
    settled_on: date


class PaymentRejected(PayoutEvent):
    """The bank returned the transfer; it is retried once the IBAN is fixed, never lost (R-PAY-3)."""

    ce_type: ClassVar[str] = "dife.payout.payment_rejected.v1"

    payment_id: UUID
    reason_code: SepaReasonCode
    rejected_on: date


class RefundOrdered(PayoutEvent):
    """The élu paid more by card than the service cost: the difference goes back (R-PAY-2)."""

    ce_type: ClassVar[str] = "dife.payout.refund_ordered.v1"

    refund_id: UUID
    elu_id: UUID
    amount_cents: Cents
    reason: str
