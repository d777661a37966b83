"""Events of the 1 % contribution that collectivités pay on their élus' allowances (key: SIREN)."""

import re
from datetime import date
from typing import ClassVar
from uuid import UUID

from pydantic import AwareDatetime, Field, model_validator

from dife_contracts import topics
from dife_contracts.enums import Periodicity, PeriodStatus
from dife_contracts.event import Event
from dife_contracts.money import Cents
from dife_contracts.values import Period, Siren

_PERIOD_SHAPE = {
    Periodicity.MONTHLY: re.compile(r"\d{4}-\d{2}"),
    Periodicity.QUARTERLY: re.compile(r"\d{4}-Q\d"),
    Periodicity.YEARLY: re.compile(r"\d{4}"),
}


class ContributionsEvent(Event):
    """An event about one collectivité's contributions, keyed by its SIREN."""

    topic: ClassVar[str] = topics.CONTRIBUTIONS
    key_field: ClassVar[str] = "siren"

    siren: Siren


class DeclarationReceived(ContributionsEvent):
    """A collectivité declared a period; version N+1 replaces version N of the same period (R-CON-4)."""

    ce_type: ClassVar[str] = "dife.contributions.declaration_received.v1"

    declaration_id: UUID
    period: Period
    periodicity: Periodicity
    version: int = Field(ge=1)
    line_count: int = Field(ge=0)
    allowances_cents: Cents
    contribution_cents: Cents
    received_at: AwareDatetime

    @model_validator(mode="after")
    def _period_matches_periodicity(self) -> "DeclarationReceived":
        """R-CON-3: `2026-03` is a month, `2026-Q1` a quarter, `2026` a year."""
        if not _PERIOD_SHAPE[self.periodicity].fullmatch(self.period):
            raise ValueError(f"period {self.period!r} is not a {self.periodicity} period")
        return self


class PaymentReceived(ContributionsEvent):
    """The fund received a collectivité's payment for a period."""

    ce_type: ClassVar[str] = "dife.contributions.payment_received.v1"

    payment_id: UUID
    period: Period
    amount_cents: Cents
    received_on: date


class PeriodSettled(ContributionsEvent):
    """Payments were matched to the period's declaration; `status` says how they compare (R-CON-4)."""

    ce_type: ClassVar[str] = "dife.contributions.period_settled.v1"

    period: Period
    status: PeriodStatus
    declared_cents: Cents
    paid_cents: Cents


class PeriodLate(ContributionsEvent):
    """A period is past its due date and not fully paid (R-CON-3)."""

    ce_type: ClassVar[str] = "dife.contributions.period_late.v1"

    period: Period
    due_date: date
    outstanding_cents: Cents
