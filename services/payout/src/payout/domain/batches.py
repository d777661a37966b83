"""SEPA credit-transfer batches and the bank's status reports (R-PAY-3).

A batch is built and recorded in one transaction with its payments marked `batched`; it is released (the
payments are `sent`) once its pain.001 file validates. A status report (pain.002) decides each transfer at
most once: a second import of the same report finds nothing pending and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from uuid import UUID

from servicekit.rules import InvalidTransition

MESSAGE_ID_MAX = 35


class BatchStatus(StrEnum):
    BUILT = "built"
    RELEASED = "released"


class ItemOutcome(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REJECTED = "rejected"


class TransferStatus(StrEnum):
    """A bank's verdict on one transfer, from the ISO 20022 `TxSts` / `GrpSts` codes."""

    ACCEPTED = "accepted"
    REJECTED = "rejected"
    PENDING = "pending"


ACCEPTED_CODES = frozenset({"ACCP", "ACSP", "ACSC", "ACCC", "ACWC", "ACTC"})
"""ISO 20022 ExternalPaymentTransactionStatus1Code values that mean the bank took the transfer."""
REJECTED_CODES = frozenset({"RJCT"})


def transfer_status(code: str) -> TransferStatus:
    if code in ACCEPTED_CODES:
        return TransferStatus.ACCEPTED
    if code in REJECTED_CODES:
        return TransferStatus.REJECTED
    return TransferStatus.PENDING


def message_id(batch_id: UUID, created_on: date) -> str:
    """The pain.001 `MsgId` (Max35Text), unique per batch: `DIFE-20270115-<batch id, 20 hex>`."""
    return f"DIFE-{created_on:%Y%m%d}-{batch_id.hex[:20]}"


@dataclass(frozen=True, slots=True)
class Transfer:
    """One credit transfer of a batch; the IBAN is in clear only while the file is built."""

    payment_id: UUID
    dossier_id: UUID
    end_to_end_id: str
    amount_cents: int
    creditor_name: str
    iban: str
    bic: str
    bank_details_id: UUID

    def __repr__(self) -> str:
        return f"Transfer({self.end_to_end_id}, {self.amount_cents} cents)"


@dataclass
class Batch:
    batch_id: UUID
    message_id: str
    created_at: datetime
    execution_date: date
    status: BatchStatus = BatchStatus.BUILT
    released_at: datetime | None = None
    payment_count: int = 0
    total_cents: int = 0
    transfers: list[Transfer] = field(default_factory=list, repr=False)

    def release(self, now: datetime) -> None:
        if self.status is not BatchStatus.BUILT:
            raise InvalidTransition(
                current=self.status.value, wanted="release", allowed=(), rule_id="R-PAY-3"
            )
        self.status = BatchStatus.RELEASED
        self.released_at = now


@dataclass(frozen=True, slots=True)
class ReportedTransfer:
    """One line of a pain.002: which transfer, what the bank says, and why when it refused."""

    end_to_end_id: str
    status: TransferStatus
    reason_code: str | None = None


@dataclass(frozen=True, slots=True)
class StatusReport:
    """A parsed pain.002: the original message and either per-transfer verdicts or one for the whole group."""

    original_message_id: str
    group_status: TransferStatus | None
    group_reason_code: str | None
    transfers: tuple[ReportedTransfer, ...]
    created_on: date | None = None

    def verdicts(self, end_to_end_ids: list[str]) -> tuple[list[ReportedTransfer], list[str]]:
        """Per-transfer verdicts for the batch's transfers, and the reported ids the batch does not hold.

        Without transaction details, a group status of accepted or rejected applies to every transfer.
        """
        known = set(end_to_end_ids)
        if not self.transfers and self.group_status in (TransferStatus.ACCEPTED, TransferStatus.REJECTED):
            return [
                ReportedTransfer(e2e, self.group_status, self.group_reason_code) for e2e in end_to_end_ids
            ], []
        verdicts = [t for t in self.transfers if t.end_to_end_id in known]
        unknown = [t.end_to_end_id for t in self.transfers if t.end_to_end_id not in known]
        return verdicts, unknown


DEFAULT_REJECTION_CODE = "NARR"
"""Used when a bank rejects without a reason code (ISO: narrative reason)."""
