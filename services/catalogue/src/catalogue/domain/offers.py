"""Offers and their sessions: terms (R-OFR-1…5), agrément coverage (R-OF-1) and the lifecycle.

An offer is ``draft`` → ``published`` → ``withdrawn``; a session is ``open`` or ``cancelled``. Every check
collects all the rules a request breaks, so one refusal lists them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from enum import StrEnum

from dife_contracts.enums import TrainingPurpose

from catalogue.domain import policy
from catalogue.domain.certifications import is_cpf_eligible
from catalogue.domain.organismes import Agrement, covers
from catalogue.domain.themes import theme_for
from catalogue.domain.violations import Checks, InvalidTransition

MANDATE = TrainingPurpose.MANDATE
REINSERTION = TrainingPurpose.REINSERTION


class OfferStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    WITHDRAWN = "withdrawn"


class SessionStatus(StrEnum):
    OPEN = "open"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Subcontracting:
    siret: str
    share_percent: Decimal


@dataclass(frozen=True, slots=True)
class Subcontractor:
    """What the catalogue knows of a subcontractor: None agréments when it is not a registered OF."""

    siret: str
    agrements: Sequence[Agrement] | None


@dataclass(frozen=True, slots=True)
class OfferTerms:
    kind: str
    theme_code: str | None
    certification_code: str | None
    hours: Decimal
    price_ht_cents: int
    subcontracting: Subcontracting | None


@dataclass(frozen=True, slots=True)
class SessionDates:
    start_date: date
    end_date: date


def price_within_hourly_cap(price_ht_cents: int, hours: Decimal) -> bool:
    """R-OFR-3: ``price_ht / hours ≤ 80 €``, computed exactly (hours may be fractional)."""
    return Decimal(price_ht_cents) <= Decimal(policy.MAX_PRICE_HT_CENTS_PER_HOUR) * hours


def check_terms(
    terms: OfferTerms, *, seller_siret: str, subcontractor: Subcontractor | None, today: date
) -> Checks:
    """R-OFR-1, R-OFR-2, R-OFR-3 and R-OFR-5 on the terms of an offer, all at once."""
    checks = Checks()
    if terms.kind == MANDATE:
        if terms.theme_code is None:
            checks.fail("R-OFR-1", "a mandate training names a theme of the répertoire (theme_code)")
        elif theme_for(terms.theme_code) is None:
            checks.fail(
                "R-OFR-1", f"theme {terms.theme_code!r} is not in the répertoire of mandate trainings"
            )
        if terms.certification_code is not None:
            checks.fail("R-OFR-1", "a mandate training has a theme, not a certification code")
    else:
        if terms.certification_code is None:
            checks.fail("R-OFR-2", "a reinsertion training names its CPF certification (certification_code)")
        elif not is_cpf_eligible(terms.certification_code):
            checks.fail(
                "R-OFR-2",
                f"{terms.certification_code!r} is not CPF-eligible "
                "(RNCP…, RS…, VAE, BILAN-COMPETENCES, PERMIS-…)",
            )
        if terms.theme_code is not None:
            checks.fail("R-OFR-2", "a reinsertion training has a certification code, not a mandate theme")
    if not price_within_hourly_cap(terms.price_ht_cents, terms.hours):
        checks.fail(
            "R-OFR-3",
            f"{terms.price_ht_cents} cents HT for {terms.hours} h is over "
            f"{policy.MAX_PRICE_HT_CENTS_PER_HOUR} cents HT per hour",
        )
    if terms.subcontracting is not None:
        checks.extend(_check_subcontracting(terms.subcontracting, seller_siret, subcontractor, today))
    return checks


def _check_subcontracting(
    sub: Subcontracting, seller_siret: str, subcontractor: Subcontractor | None, today: date
) -> Checks:
    """R-OFR-5: only to another accredited OF, at most 45 % of the teaching cost."""
    checks = Checks()
    if sub.share_percent > policy.MAX_SUBCONTRACTING_SHARE_PERCENT:
        checks.fail(
            "R-OFR-5",
            f"subcontracting share {sub.share_percent} % is over {policy.MAX_SUBCONTRACTING_SHARE_PERCENT} %",
        )
    if sub.siret == seller_siret:
        checks.fail("R-OFR-5", "an OF does not subcontract to itself")
    elif subcontractor is None or subcontractor.agrements is None:
        checks.fail("R-OFR-5", f"subcontractor {sub.siret} is not a registered training organisation")
    elif not any(a.effective_until >= today for a in subcontractor.agrements):
        checks.fail("R-OFR-5", f"subcontractor {sub.siret} holds no current agrément")
    return checks


def check_capacity(kind: str, capacity: int) -> Checks:
    """R-OFR-4: at most 15 participants per session of a mandate training."""
    checks = Checks()
    if kind == MANDATE and capacity > policy.MAX_MANDATE_SESSION_SEATS:
        checks.fail(
            "R-OFR-4",
            f"{capacity} seats on a mandate session; at most {policy.MAX_MANDATE_SESSION_SEATS}",
        )
    return checks


def check_coverage(
    kind: str,
    sessions: Sequence[SessionDates],
    agrements: Sequence[Agrement],
    subcontractor: Subcontractor | None,
) -> Checks:
    """R-OF-1 (seller's agrément, mandate trainings) and R-OFR-5 (subcontractor's) on every session date."""
    checks = Checks()
    for session in sessions:
        if kind == MANDATE and not covers(agrements, session.start_date, session.end_date):
            checks.fail(
                "R-OF-1",
                f"no valid agrément covers the session from {session.start_date} to {session.end_date}",
            )
        if (
            subcontractor is not None
            and subcontractor.agrements is not None
            and not covers(subcontractor.agrements, session.start_date, session.end_date)
        ):
            checks.fail(
                "R-OFR-5",
                f"subcontractor {subcontractor.siret} is not accredited from {session.start_date} "
                f"to {session.end_date}",
            )
    return checks


def check_new_session(
    kind: str,
    dates: SessionDates,
    capacity: int,
    agrements: Sequence[Agrement],
    subcontractor: Subcontractor | None,
) -> Checks:
    """A session added to an offer: capacity (R-OFR-4) and agrément coverage (R-OF-1, R-OFR-5)."""
    checks = check_capacity(kind, capacity)
    checks.extend(check_coverage(kind, [dates], agrements, subcontractor))
    return checks


def ensure_editable(status: OfferStatus) -> None:
    if status is OfferStatus.WITHDRAWN:
        raise InvalidTransition("a withdrawn offer cannot change")


def ensure_publishable(status: OfferStatus, open_sessions: int) -> None:
    """Only a draft is published, and only with at least one open session."""
    if status is not OfferStatus.DRAFT:
        raise InvalidTransition(f"only a draft offer is published; this one is {status.value}")
    if open_sessions == 0:
        raise InvalidTransition("an offer is published with at least one open session")


def ensure_withdrawable(status: OfferStatus) -> None:
    if status is OfferStatus.WITHDRAWN:
        raise InvalidTransition("the offer is already withdrawn")


def ensure_cancellable(offer_status: OfferStatus, session_status: SessionStatus) -> None:
    if offer_status is OfferStatus.WITHDRAWN:
        raise InvalidTransition("the offer is withdrawn")
    if session_status is SessionStatus.CANCELLED:
        raise InvalidTransition("the session is already cancelled")


def seats_left(capacity: int, seats_taken: int) -> int:
    """What the catalogue shows; the dossier service enforces capacity from its own enrolments."""
    return max(0, capacity - seats_taken)


@dataclass(frozen=True, slots=True)
class ScheduledSession:
    id: uuid.UUID
    start_date: date
    end_date: date


def sessions_losing_agrement(
    kind: str, open_sessions: Sequence[ScheduledSession], agrements: Sequence[Agrement]
) -> list[ScheduledSession]:
    """R-OF-1 after an agrément is withdrawn: the open sessions of a mandate training it no longer covers."""
    if kind != MANDATE:
        return []
    return [s for s in open_sessions if not covers(agrements, s.start_date, s.end_date)]
