"""Events of the rights-ledger: élus, their mandates, their DIFE account and the holds on it (key: elu_id)."""

from datetime import date
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from dife_contracts import topics
from dife_contracts.enums import HoldRejectionReason, MandateFamily, RneFileType
from dife_contracts.event import Event, PayloadPart
from dife_contracts.money import Cents, SignedCents


class LedgerEvent(Event):
    """An event about one élu's account; keyed by elu_id so that one élu's movements stay in order."""

    topic: ClassVar[str] = topics.LEDGER
    key_field: ClassVar[str] = "elu_id"

    elu_id: UUID


class Mandate(PayloadPart):
    """One mandate of an élu as read from the RNE (R-REG-1); `end_date` is set once it has ended."""

    mandate_id: UUID
    file_type: RneFileType
    family: MandateFamily
    collectivite_code: str
    collectivite_name: str
    function: str
    start_date: date
    end_date: date | None = None

    @model_validator(mode="after")
    def _ends_after_it_starts(self) -> "Mandate":
        if self.end_date is not None and self.end_date < self.start_date:
            raise ValueError("a mandate cannot end before it starts")
        return self


class EluRegistered(LedgerEvent):
    """A new élu appeared in the RNE and now has a (not yet activated) DIFE account."""

    ce_type: ClassVar[str] = "dife.ledger.elu_registered.v1"

    family_name: str
    given_names: str
    mandates: list[Mandate]


class EluMandatesChanged(LedgerEvent):
    """An RNE import changed an élu's mandates; `last_mandate_end` is set once none runs (R-END-1)."""

    ce_type: ClassVar[str] = "dife.ledger.elu_mandates_changed.v1"

    mandates: list[Mandate]
    last_mandate_end: date | None = None
    snapshot_date: date


class AccountActivated(LedgerEvent):
    """The élu proved their identity and activated the account (R-ACT-1)."""

    ce_type: ClassVar[str] = "dife.ledger.account_activated.v1"

    activated_at: AwareDatetime


class RightsCredited(LedgerEvent):
    """The yearly campaign credited the account, at most up to the cap (R-ACC-1, R-ACC-2)."""

    ce_type: ClassVar[str] = "dife.ledger.rights_credited.v1"

    campaign_id: UUID
    year: int
    family: MandateFamily
    amount_cents: Cents
    capped: bool
    balance_after_cents: Cents
    credited_on: date


class RightsExpired(LedgerEvent):
    """The remaining balance expired, as an explicit movement (R-END-1)."""

    ce_type: ClassVar[str] = "dife.ledger.rights_expired.v1"

    amount_cents: Cents
    expired_on: date
    reason: str


class HoldPlaced(LedgerEvent):
    """Rights are reserved for a dossier until it is paid or cancelled (R-FUN-5)."""

    ce_type: ClassVar[str] = "dife.ledger.hold_placed.v1"

    hold_id: UUID
    dossier_id: UUID
    amount_cents: Cents
    available_after_cents: Cents


class HoldRejected(LedgerEvent):
    """The ledger refused to reserve rights for a dossier; `available_cents` is what it could reserve."""

    ce_type: ClassVar[str] = "dife.ledger.hold_rejected.v1"

    dossier_id: UUID
    requested_cents: Cents
    available_cents: Cents
    reason: HoldRejectionReason
    detail: str


class HoldCaptured(LedgerEvent):
    """A hold was spent on a paid training; what was not spent went back to the élu (R-PAY-2)."""

    ce_type: ClassVar[str] = "dife.ledger.hold_captured.v1"

    hold_id: UUID
    dossier_id: UUID
    captured_cents: Cents
    released_cents: Cents


class HoldReleased(LedgerEvent):
    """A hold was given back whole to the élu (refusal, expiry, cancellation)."""

    ce_type: ClassVar[str] = "dife.ledger.hold_released.v1"

    hold_id: UUID
    dossier_id: UUID
    released_cents: Cents
    reason: str


class AccountAdjusted(LedgerEvent):
    """An agent corrected the balance by hand; `amount_cents` is negative for a debit."""

    ce_type: ClassVar[str] = "dife.ledger.account_adjusted.v1"

    amount_cents: SignedCents
    reason: str
    balance_after_cents: Cents
    by: str
    adjustment_id: UUID | None = Field(
        default=None, description="The adjustment as the movements name it (absent before 2026-11)."
    )
    value_date: date | None = Field(
        default=None, description="The Paris date the adjustment takes effect (absent before 2026-11)."
    )


class PensionLiquidated(LedgerEvent):
    """An agent recorded the élu's pension as liquidated: no reinsertion training from then on (R-END-1)."""

    ce_type: ClassVar[str] = "dife.ledger.pension_liquidated.v1"

    liquidated_on: date
