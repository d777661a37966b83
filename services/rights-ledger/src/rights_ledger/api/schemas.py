"""Request and response bodies of the ledger's API. Money is integer cents in ``*_cents`` fields."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal
from uuid import UUID

from dife_contracts.enums import MandateFamily, RneFileType
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, Strict, StringConstraints

from rights_ledger.domain.parameters import CampaignFamily

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]


def _iso_date_text(value: object) -> object:
    """A date in a body is the JSON string ``YYYY-MM-DD``: ``0`` is not 1970-01-01, nor a timestamp a day."""
    if isinstance(value, date) or (isinstance(value, str) and len(value) == 10):
        return value
    raise ValueError("a date is a string YYYY-MM-DD")


IsoDate = Annotated[date, BeforeValidator(_iso_date_text)]
Year = Annotated[int, Strict(), Field(ge=2000, le=2100)]


class MandateOut(BaseModel):
    mandate_id: UUID
    file_type: RneFileType
    family: MandateFamily
    collectivite_code: str
    collectivite_name: str
    function: str
    start_date: date
    end_date: date | None


class EluOut(BaseModel):
    elu_id: UUID
    family_name: str
    given_names: str
    birth_date: date
    pension_liquidated_on: date | None
    mandates: list[MandateOut]


class ActivationIn(BaseModel):
    """R-ACT-1: only the NIR; the identity comes from the verified token's claims (``family_name``,
    ``given_name``, ``birthdate``, ``gender``), never from the body."""

    model_config = ConfigDict(extra="forbid")

    nir: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)] = Field(
        description="R-REG-3: checked, then kept only as a keyed hash; never stored or logged in clear"
    )
    commune_code: Annotated[str, StringConstraints(pattern=r"^([0-9]{1,5}|2[AB][0-9]{3})$")] | None = Field(
        default=None,
        description="R-ACT-1: only when several élus share the identity (homonyms): the INSEE code of the "
        "commune of one of the caller's mandates",
    )


class RevocationIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


class AccountOut(BaseModel):
    """Read from the use case's `AccountView` by attribute (no `dataclasses.asdict`, which deep-copies every
    field: 6 % of a balance read's CPU)."""

    model_config = ConfigDict(from_attributes=True)

    elu_id: UUID
    status: Literal["inactive", "active", "closed"]
    balance_cents: int
    held_cents: int
    available_cents: int
    cap_cents: int
    mandate_training_allowed: bool
    reinsertion_until: date | None


class CampaignRefOut(BaseModel):
    """A credit's campaign: one year's campaign of one family (R-ACC-3)."""

    model_config = ConfigDict(from_attributes=True)

    year: int
    family: CampaignFamily


class MovementOut(BaseModel):
    """One movement of the account (the journal is append-only). ``at`` is when the ledger recorded it,
    ``value_date`` the Paris date it takes effect (a credit: its campaign's date; an expiry: the run's
    ``as_of``; otherwise the Paris day of ``at``; never later than that day). The typed references are set
    where they apply: ``campaign`` on a credit, ``hold_id`` and ``dossier_id`` on a hold, capture or release,
    ``adjustment_id`` on an adjustment; ``reference`` is a human-readable label."""

    model_config = ConfigDict(from_attributes=True)

    id: UUID
    kind: Literal["credit", "hold", "capture", "release", "expiry", "adjustment"]
    amount_cents: int
    balance_delta_cents: int
    held_delta_cents: int
    balance_after_cents: int
    held_after_cents: int
    at: datetime = Field(description="When the ledger recorded the movement")
    value_date: date = Field(description="The Paris date the movement takes effect")
    reference: str | None
    campaign: CampaignRefOut | None = None
    hold_id: UUID | None = None
    dossier_id: UUID | None = None
    adjustment_id: UUID | None = None


class HoldOut(BaseModel):
    """A hold on the account: ``pending`` (reserved), ``posted`` (captured, ``captured_cents`` spent, the rest
    released), ``voided`` (released), or ``rejected`` (never placed: ``rejection_reason`` and its detail)."""

    model_config = ConfigDict(from_attributes=True)

    dossier_id: UUID
    status: Literal["pending", "posted", "voided", "rejected"]
    amount_cents: int
    captured_cents: int
    purpose: str | None
    training_start: date | None
    training_end: date | None
    hold_id: UUID | None
    rejection_reason: str | None
    rejection_detail: str | None
    at: datetime
    resolved_at: datetime | None


class CampaignIn(BaseModel):
    """R-ACC-3: a campaign runs on or after its date (30 March or 5 July of ``year``, Paris)."""

    model_config = ConfigDict(extra="forbid")

    family: CampaignFamily
    year: Year


class PensionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date: IsoDate


class ExpiryRunIn(BaseModel):
    """R-END-1: ``as_of`` is today or a past day (Paris): the ledger never expires rights ahead of time."""

    model_config = ConfigDict(extra="forbid")

    as_of: IsoDate


class AdjustmentIn(BaseModel):
    amount_cents: int = Field(description="Signed: negative for a debit; never 0", strict=True)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=500)]


class AdjustmentOut(BaseModel):
    movement_id: UUID
    adjustment_id: UUID
    value_date: date
    balance_after_cents: int
