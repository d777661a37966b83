"""Request and response bodies of the contributions API."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Annotated

from dife_contracts.enums import Periodicity, PeriodStatus
from dife_contracts.money import Cents, PositiveCents
from dife_contracts.values import Period
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, field_validator

from contributions.adapters.repository import DeclarationVersion, StoredCredit
from contributions.domain.collectivites import Collectivite, CollectiviteType, normalise_siren
from contributions.domain.declarations import MAX_NAME_LENGTH, AllowanceLine, Declaration
from contributions.domain.matching import MatchedBy
from contributions.domain.periods import creditor_reference
from contributions.domain.settlement import PeriodAccount
from contributions.use_cases.payments import MatchedCredit
from contributions.use_cases.periods import CalendarEntry

Name = Annotated[str, StringConstraints(min_length=1, max_length=MAX_NAME_LENGTH, pattern=r"^[^\x00]*$")]
Month = Annotated[str, StringConstraints(pattern=r"^(20\d{2}|2100)-(0[1-9]|1[0-2])$")]


def _iso_text(value: object) -> object:
    """Dates come as ISO text (`2026-04-10`), never as a number pydantic would read as a Unix time."""
    if not isinstance(value, str | date):
        raise ValueError("a date is written AAAA-MM-JJ")
    return value


IsoDate = Annotated[date, BeforeValidator(_iso_text)]
MAX_REFERENCE_CENTS = 10**12
_STRICT = ConfigDict(extra="forbid")


class CollectiviteIn(BaseModel):
    model_config = _STRICT

    siren: str = Field(max_length=20, description="9 digits with a valid Luhn key", examples=["217500016"])
    name: Name
    type: CollectiviteType
    reference_annual_cents: Cents | None = Field(
        default=None,
        le=MAX_REFERENCE_CENTS,
        description="Last known annual contribution: the basis of its first calendar (R-CON-3)",
    )

    @field_validator("siren")
    @classmethod
    def _valid_siren(cls, value: str) -> str:
        siren = normalise_siren(value)
        if siren is None:
            raise ValueError("not a valid SIREN (9 digits with a valid Luhn key)")
        return siren

    def to_domain(self, registered_on: date) -> Collectivite:
        return Collectivite(self.siren, self.name, self.type, registered_on, self.reference_annual_cents)


class CollectiviteOut(BaseModel):
    siren: str
    name: str
    type: CollectiviteType
    subject: bool = Field(description="Owes the 1 % contribution (R-CON-1)")
    registered_on: date
    reference_annual_cents: int | None

    @classmethod
    def of(cls, c: Collectivite) -> CollectiviteOut:
        return cls(
            siren=c.siren,
            name=c.name,
            type=c.type,
            subject=c.is_subject,
            registered_on=c.registered_on,
            reference_annual_cents=c.reference_annual_cents,
        )


class LineProblemOut(BaseModel):
    line: int
    reason: str


class CollectivitesImportOut(BaseModel):
    loaded: int
    problems: list[LineProblemOut]


class AllowanceLineIn(BaseModel):
    """One élu and one month: `elu_id`, or family name, given names and birth date."""

    model_config = _STRICT

    month: Month = Field(examples=["2026-03"])
    gross_allowance_cents: Cents = Field(description="Gross allowance received, municipal increases included")
    family_name: Name | None = None
    given_names: Name | None = None
    birth_date: IsoDate | None = None
    elu_id: uuid.UUID | None = None

    def to_domain(self, number: int) -> AllowanceLine:
        year, month = (int(part) for part in self.month.split("-"))
        return AllowanceLine(
            number,
            date(year, month, 1),
            self.gross_allowance_cents,
            self.family_name,
            self.given_names,
            self.birth_date,
            self.elu_id,
        )


class DeclarationIn(BaseModel):
    model_config = _STRICT

    period: Period = Field(examples=["2026-03"])
    lines: list[AllowanceLineIn] = Field(max_length=500_000)


class DeclarationOut(BaseModel):
    id: uuid.UUID
    siren: str
    period: str
    periodicity: Periodicity
    version: int = Field(description="N+1 replaces N; earlier versions stay in the history (R-CON-4)")
    line_count: int
    allowances_cents: int
    contribution_cents: int = Field(description="Sum of 1 % of each line, half up (R-CON-2)")
    received_at: datetime
    creditor_reference: str = Field(description="ISO 11649 reference to quote when paying this period")

    @classmethod
    def of(cls, d: Declaration) -> DeclarationOut:
        return cls(
            id=d.id,
            siren=d.siren,
            period=str(d.period),
            periodicity=d.period.periodicity,
            version=d.version,
            line_count=d.line_count,
            allowances_cents=d.allowances_cents,
            contribution_cents=d.contribution_cents,
            received_at=d.received_at,
            creditor_reference=creditor_reference(d.siren, d.period),
        )


class DeclarationVersionOut(BaseModel):
    id: uuid.UUID
    period: str
    version: int
    current: bool
    line_count: int
    allowances_cents: int
    contribution_cents: int
    received_at: datetime
    received_by: str

    @classmethod
    def all_of(cls, versions: list[DeclarationVersion]) -> list[DeclarationVersionOut]:
        latest: dict[str, int] = {}
        for v in versions:
            latest[v.period] = max(latest.get(v.period, 0), v.version)
        return [
            cls(
                id=v.id,
                period=v.period,
                version=v.version,
                current=v.version == latest[v.period],
                line_count=v.line_count,
                allowances_cents=v.allowances_cents,
                contribution_cents=v.contribution_cents,
                received_at=v.received_at,
                received_by=v.received_by,
            )
            for v in versions
        ]


class PeriodOut(BaseModel):
    siren: str
    period: str
    periodicity: Periodicity
    due_date: date
    creditor_reference: str
    declared_cents: int | None = Field(description="Contribution of the current declaration; null if none")
    paid_cents: int
    outstanding_cents: int
    status: PeriodStatus

    @classmethod
    def of_entry(cls, siren: str, e: CalendarEntry) -> PeriodOut:
        return cls(
            siren=siren,
            period=str(e.period),
            periodicity=e.period.periodicity,
            due_date=e.due_date,
            creditor_reference=e.creditor_reference,
            declared_cents=e.declared_cents,
            paid_cents=e.paid_cents,
            outstanding_cents=max((e.declared_cents or 0) - e.paid_cents, 0),
            status=e.status,
        )

    @classmethod
    def of_account(cls, a: PeriodAccount) -> PeriodOut:
        return cls(
            siren=a.siren,
            period=str(a.period),
            periodicity=a.period.periodicity,
            due_date=a.due_date,
            creditor_reference=creditor_reference(a.siren, a.period),
            declared_cents=a.declared_cents,
            paid_cents=a.paid_cents,
            outstanding_cents=a.outstanding_cents,
            status=a.status,
        )


class CalendarOut(BaseModel):
    siren: str
    year: int
    periodicity: Periodicity = Field(description="From the last known annual total (R-CON-3)")
    periods: list[PeriodOut]


class PaymentIn(BaseModel):
    model_config = _STRICT

    period: Period
    amount_cents: PositiveCents
    received_on: IsoDate


class PaymentOut(BaseModel):
    id: uuid.UUID
    period: PeriodOut


class CreditOut(BaseModel):
    id: uuid.UUID
    amount_cents: int
    booked_on: date
    reference: str | None
    remittance: str
    debtor_name: str | None
    siren: str | None = Field(
        description="The collectivité matched, or the SIREN found in an unmatched credit"
    )
    period: str | None
    matched_by: MatchedBy | None
    unmatched_reason: str | None
    period_status: PeriodStatus | None = None

    @classmethod
    def of_match(cls, m: MatchedCredit) -> CreditOut:
        return cls(
            id=m.credit.id,
            amount_cents=m.credit.amount_cents,
            booked_on=m.credit.booked_on,
            reference=m.credit.reference,
            remittance=m.credit.remittance,
            debtor_name=m.credit.debtor_name,
            siren=m.match.siren,
            period=str(m.match.period) if m.match.period else None,
            matched_by=m.match.matched_by,
            unmatched_reason=m.match.reason,
            period_status=PeriodStatus(m.status_after) if m.status_after else None,
        )

    @classmethod
    def of_stored(cls, c: StoredCredit) -> CreditOut:
        return cls(
            id=c.id,
            amount_cents=c.amount_cents,
            booked_on=c.booked_on,
            reference=c.reference,
            remittance=c.remittance,
            debtor_name=c.debtor_name,
            siren=c.siren,
            period=c.period,
            matched_by=c.matched_by,
            unmatched_reason=c.unmatched_reason,
        )


class StatementOut(BaseModel):
    id: uuid.UUID
    key: str
    imported_at: datetime
    replayed: bool = Field(description="The statement had been imported before: nothing changed")
    credit_count: int
    matched_count: int
    already_recorded: int = Field(description="Credits skipped: recorded from another statement before")
    credits: list[CreditOut]


class AssignmentIn(BaseModel):
    model_config = _STRICT

    siren: str = Field(max_length=20)
    period: Period

    @field_validator("siren")
    @classmethod
    def _valid_siren(cls, value: str) -> str:
        siren = normalise_siren(value)
        if siren is None:
            raise ValueError("not a valid SIREN (9 digits with a valid Luhn key)")
        return siren
