"""R-DOS-2: who may ask for which session, decided from this service's local read models only.

Every reason that applies is collected (`Checks`), so the élu sees them all in one 422.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from uuid import UUID

from dife_contracts.enums import TrainingPurpose
from servicekit.rules import Checks

MAX_MANDATE_SEATS = 15
"""R-OFR-4: at most 15 participants in a session of a mandate training, whatever the catalogue says."""

REINSERTION_MONTHS_AFTER_MANDATE = 6
"""R-END-1 / R-OFR-2: a reinsertion training must end within 6 months after the last mandate."""

RULE = "R-DOS-2"


@dataclass(frozen=True)
class MandatePeriod:
    start: date
    end: date | None

    def covers(self, first: date, last: date) -> bool:
        return self.start <= first and (self.end is None or last <= self.end)


@dataclass(frozen=True)
class EluProfile:
    """What the dossier keeps of an élu (from the ledger's events)."""

    elu_id: UUID
    family_name: str
    given_names: str
    account_active: bool = False
    mandates: tuple[MandatePeriod, ...] = ()
    pension_liquidated_on: date | None = None

    def last_mandate_end(self) -> date | None:
        """The end of the last mandate once every mandate has ended; None while one runs (or none known)."""
        if not self.mandates or any(m.end is None for m in self.mandates):
            return None
        return max(m.end for m in self.mandates if m.end is not None)

    def has_running_mandate(self) -> bool:
        return any(m.end is None for m in self.mandates)


@dataclass(frozen=True)
class OfferSnapshot:
    """An offer as the catalogue last published it (plus its organisme's name)."""

    offer_id: UUID
    siret: str
    kind: TrainingPurpose
    title: str
    theme_code: str | None
    hours: Decimal
    price_cents: int
    department: str | None
    organisme_name: str | None = None
    published: bool = True


@dataclass(frozen=True)
class SessionSnapshot:
    session_id: UUID
    offer_id: UUID
    start: date
    end: date
    capacity: int
    seats_taken: int = 0
    cancelled: bool = False


@dataclass(frozen=True)
class LiveEnrolment:
    """Another live dossier of the same élu, for the overlap check."""

    dossier_id: UUID
    start: date
    end: date


@dataclass(frozen=True)
class EnrolmentRequest:
    elu: EluProfile | None
    offer: OfferSnapshot | None
    session: SessionSnapshot | None
    other_dossiers: tuple[LiveEnrolment, ...] = field(default_factory=tuple)


def seats_of(offer: OfferSnapshot, session: SessionSnapshot) -> int:
    """R-OFR-4: the seats a session offers; a mandate training never more than 15."""
    if offer.kind is TrainingPurpose.MANDATE:
        return min(session.capacity, MAX_MANDATE_SEATS)
    return session.capacity


def add_months(day: date, months: int) -> date:
    """`day` plus calendar months, clamped to the month's last day (31 August + 6 months = 28/29 February)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def check_eligibility(request: EnrolmentRequest, today: date) -> Checks:
    """R-DOS-2 (with R-OFR-2, R-OFR-4, R-END-1 at enrolment): every reason the request cannot be submitted."""
    checks = Checks()
    _check_account(request.elu, checks)
    _check_offer(request.offer, checks)
    _check_session(request, today, checks)
    if request.elu is not None and request.offer is not None and request.session is not None:
        _check_mandates(request.elu, request.offer, request.session, checks)
    return checks


def _check_account(elu: EluProfile | None, checks: Checks) -> None:
    if elu is None:
        checks.fail(RULE, "the élu is unknown to the registry", field="account")
    elif not elu.account_active:
        checks.fail(RULE, "the élu's DIFE account is not active", field="account")


def _check_offer(offer: OfferSnapshot | None, checks: Checks) -> None:
    if offer is None:
        checks.fail(RULE, "the offer is not published in the catalogue", field="offer_id")
    elif not offer.published:
        checks.fail(RULE, "the offer is no longer published (withdrawn)", field="offer_id")


def _check_session(request: EnrolmentRequest, today: date, checks: Checks) -> None:
    session, offer = request.session, request.offer
    if session is None or (offer is not None and session.offer_id != offer.offer_id):
        checks.fail(RULE, "the session is not a session of this offer", field="session_id")
        return
    if session.cancelled:
        checks.fail(RULE, "the session is cancelled", field="session_id")
    elif session.start <= today:
        checks.fail(RULE, "the session is not open: it has already started", field="session_id")
    if offer is not None and session.seats_taken >= seats_of(offer, session):
        checks.fail(RULE, "the session is full (R-OFR-4)", field="session_id")
    for other in request.other_dossiers:
        if other.start <= session.end and session.start <= other.end:
            checks.fail(
                RULE,
                f"the session overlaps another live dossier of the élu ({other.dossier_id})",
                field="session_id",
            )


def _check_mandates(elu: EluProfile, offer: OfferSnapshot, session: SessionSnapshot, checks: Checks) -> None:
    if offer.kind is TrainingPurpose.MANDATE:
        if not any(m.covers(session.start, session.end) for m in elu.mandates):
            checks.fail(
                RULE,
                "a mandate training must start and end inside a running mandate",
                field="mandate",
            )
        return
    last_end = elu.last_mandate_end()
    if last_end is not None and session.end > add_months(last_end, REINSERTION_MONTHS_AFTER_MANDATE):
        checks.fail(
            RULE,
            f"a reinsertion training must end within 6 months after the last mandate ({last_end}) (R-OFR-2)",
            field="mandate",
        )
    if not elu.mandates:
        checks.fail(RULE, "the élu holds no mandate", field="mandate")
    if elu.pension_liquidated_on is not None:
        checks.fail(
            RULE,
            "the élu's pension is liquidated: no reinsertion training any more (R-END-1)",
            field="pension",
        )
