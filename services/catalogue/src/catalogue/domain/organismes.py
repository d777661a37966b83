"""Training organisations (OF) and their agréments (R-OF-1).

An agrément is granted by the ministry after the CNFEL's opinion for a period, may be renewed (a new agrément
following the previous one) and may be withdrawn: the withdrawal ends its validity from its date on.
History is kept: nothing is deleted, a withdrawal is recorded on the agrément it ends.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta

from dife_contracts.enums import AgrementStatus
from dife_contracts.events import OrganismeAgrementChanged
from servicekit.rules import InvalidTransition
from stdnum.fr import siret as stdnum_siret

from catalogue.domain.quality import Quality


def normalise_siret(raw: str) -> str | None:
    """The 14-digit SIRET without spaces, or None when it fails the format or the Luhn key."""
    compact = str(stdnum_siret.compact(raw))
    return compact if stdnum_siret.is_valid(compact) else None


@dataclass(frozen=True, slots=True)
class Address:
    street: str | None = None
    postal_code: str | None = None
    city: str | None = None


@dataclass(frozen=True, slots=True)
class Organisme:
    """A training organisation (OF): who it is, and the running score of its evaluations (R-DOS-6)."""

    siret: str
    name: str
    nda: str
    address: Address = field(default_factory=Address)
    quality: Quality = field(default_factory=Quality)


@dataclass(frozen=True, slots=True)
class Agrement:
    id: uuid.UUID
    reference: str
    decision_date: date
    valid_from: date
    valid_until: date
    withdrawn_on: date | None = None
    withdrawal_reason: str | None = None

    @property
    def effective_until(self) -> date:
        """Last day of validity: a withdrawal on day D ends validity on D − 1 (R-OF-1)."""
        if self.withdrawn_on is not None and self.withdrawn_on <= self.valid_until:
            return self.withdrawn_on - timedelta(days=1)
        return self.valid_until

    def valid_on(self, day: date) -> bool:
        return self.valid_from <= day <= self.effective_until

    def withdraw(self, on: date, reason: str) -> Agrement:
        """A withdrawal is recorded once; the agrément stays in the history."""
        if self.withdrawn_on is not None:
            raise InvalidTransition(
                current=f"withdrawn on {self.withdrawn_on}", wanted="withdraw", allowed=(), rule_id="R-OF-1"
            )
        return Agrement(
            id=self.id,
            reference=self.reference,
            decision_date=self.decision_date,
            valid_from=self.valid_from,
            valid_until=self.valid_until,
            withdrawn_on=on,
            withdrawal_reason=reason,
        )


def agrement_dates_problem(decision_date: date, valid_from: date, valid_until: date) -> str | None:
    """Why these dates cannot make an agrément, or None."""
    if valid_until < valid_from:
        return "valid_until is before valid_from"
    if decision_date > valid_from:
        return "an agrément cannot start before its decision"
    return None


def covers(agrements: Iterable[Agrement], start: date, end: date) -> bool:
    """R-OF-1: every day from ``start`` to ``end`` falls in a valid agrément.

    Consecutive agréments (a renewal starting the day after the previous one ends) cover a session together.
    """
    periods = sorted(
        (a.valid_from, a.effective_until) for a in agrements if a.valid_from <= a.effective_until
    )
    day = start
    for first, last in periods:
        if first > day:
            break
        if last >= day:
            day = last + timedelta(days=1)
        if day > end:
            return True
    return day > end


def agrement_changed(siret: str, agrement: Agrement, *, renewed: bool) -> OrganismeAgrementChanged:
    """How an agrément change is announced: withdrawn, renewed (the OF held one before) or granted."""
    if agrement.withdrawn_on is not None:
        decision = AgrementStatus.WITHDRAWN
    else:
        decision = AgrementStatus.RENEWED if renewed else AgrementStatus.GRANTED
    return OrganismeAgrementChanged(
        siret=siret,
        agrement_id=agrement.id,
        reference=agrement.reference,
        decision_date=agrement.decision_date,
        valid_from=agrement.valid_from,
        valid_until=agrement.valid_until,
        withdrawn_on=agrement.withdrawn_on,
        status=decision,
    )


def is_accredited(agrements: Iterable[Agrement], on: date) -> bool:
    """An OF is accredited on a day when one of its agréments is valid that day (R-OFR-5)."""
    return any(a.valid_on(on) for a in agrements)
