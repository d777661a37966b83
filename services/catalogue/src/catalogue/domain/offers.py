"""Offers and their sessions: terms (R-OFR-1…5), agrément coverage (R-OF-1) and the lifecycle.

An offer is ``draft`` → ``published`` → ``withdrawn``; a session is ``open`` or ``cancelled``. Every check
collects all the rules a request breaks, so one refusal lists them all.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum
from typing import TypedDict

from dife_contracts import Event
from dife_contracts.enums import Modality, TrainingPurpose
from dife_contracts.events import OfferPublished, OfferWithdrawn, SessionCancelled
from dife_contracts.events.catalogue import OfferLocation
from dife_contracts.events.catalogue import OfferSession as PublishedSession
from servicekit.rules import Checks, InvalidTransition, NotFound

from catalogue.domain import policy
from catalogue.domain.certifications import is_cpf_eligible
from catalogue.domain.organismes import Agrement, covers
from catalogue.domain.quality import Quality
from catalogue.domain.themes import theme_for

PLACE_RULE = "R-OFR-PLACE"
"""DOMAIN.md §2 (no id there): an in-person or mixed training has a place; only a remote one has none."""

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


_ALLOWED: dict[OfferStatus, tuple[str, ...]] = {
    OfferStatus.DRAFT: ("edit", "add_session", "cancel_session", "publish", "withdraw"),
    OfferStatus.PUBLISHED: ("edit", "add_session", "cancel_session", "withdraw"),
    OfferStatus.WITHDRAWN: (),
}
"""What each status of an offer allows (``publish`` also needs an open session)."""


def _refuse_unless_allowed(status: OfferStatus, wanted: str) -> None:
    if wanted not in _ALLOWED[status]:
        raise InvalidTransition(current=status.value, wanted=wanted, allowed=_ALLOWED[status])


def ensure_editable(status: OfferStatus) -> None:
    """A withdrawn offer is final: nothing of it changes."""
    _refuse_unless_allowed(status, "edit")


def ensure_publishable(status: OfferStatus, open_sessions: int) -> None:
    """Only a draft is published, and only with at least one open session."""
    _refuse_unless_allowed(status, "publish")
    if open_sessions == 0:
        raise InvalidTransition(
            current="draft without open session", wanted="publish", allowed=("add_session", "withdraw")
        )


def ensure_withdrawable(status: OfferStatus) -> None:
    _refuse_unless_allowed(status, "withdraw")


def ensure_cancellable(offer_status: OfferStatus, session_status: SessionStatus) -> None:
    _refuse_unless_allowed(offer_status, "cancel_session")
    if session_status is SessionStatus.CANCELLED:
        raise InvalidTransition(current="session cancelled", wanted="cancel_session", allowed=())


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


def price_ttc_cents(price_ht_cents: int, vat_rate_bp: int) -> int:
    """HT plus VAT, rounded half up to the cent once."""
    vat = (Decimal(price_ht_cents) * vat_rate_bp / 10_000).quantize(Decimal(1), ROUND_HALF_UP)
    return price_ht_cents + int(vat)


@dataclass(frozen=True, slots=True)
class Location:
    """Where an in-person or mixed training takes place."""

    commune_insee: str
    postal_code: str
    city: str
    department: str
    region: str
    lat: float
    lon: float


@dataclass(frozen=True, slots=True)
class OfferContent:
    """What an organisme writes and may revise: the terms R-OFR-1…5 check, the description, the place."""

    kind: TrainingPurpose
    title: str
    summary: str
    objectives: str
    theme_code: str | None
    certification_code: str | None
    hours: Decimal
    price_ht_cents: int
    vat_rate_bp: int
    modality: Modality
    location: Location | None
    subcontracting: Subcontracting | None

    @property
    def terms(self) -> OfferTerms:
        return OfferTerms(
            kind=self.kind,
            theme_code=self.theme_code,
            certification_code=self.certification_code,
            hours=self.hours,
            price_ht_cents=self.price_ht_cents,
            subcontracting=self.subcontracting,
        )

    @property
    def theme_label(self) -> str | None:
        theme = theme_for(self.theme_code) if self.theme_code else None
        return theme.label if theme else None

    @property
    def price_ttc_cents(self) -> int:
        return price_ttc_cents(self.price_ht_cents, self.vat_rate_bp)

    def location_problem(self) -> str | None:
        """Why the place does not fit the modality, or None (``PLACE_RULE``)."""
        if self.location is None and self.modality is not Modality.REMOTE:
            return "an in-person or mixed training needs a location"
        return None


@dataclass(slots=True)
class OfferSession:
    """A dated run of an offer; the seats taken come from the dossier service's events."""

    id: uuid.UUID
    start_date: date
    end_date: date
    capacity: int
    status: SessionStatus = SessionStatus.OPEN
    seats_taken: int = 0

    @property
    def is_open(self) -> bool:
        return self.status is SessionStatus.OPEN

    @property
    def seats_left(self) -> int:
        return seats_left(self.capacity, self.seats_taken) if self.is_open else 0

    @property
    def dates(self) -> SessionDates:
        return SessionDates(self.start_date, self.end_date)


@dataclass(slots=True)
class Offer:
    """The offer aggregate: its content, its sessions, its lifecycle, and the events each change implies.

    Every operation records in ``events`` what the readers of a published offer must know, to be written to
    the outbox with the change: a full ``offer_published`` snapshot (with its open sessions) on publication
    and on every change to a published offer, ``offer_withdrawn``, ``session_cancelled``.
    """

    id: uuid.UUID
    siret: str
    organisme_name: str
    content: OfferContent
    created_at: datetime
    status: OfferStatus = OfferStatus.DRAFT
    sessions: list[OfferSession] = field(default_factory=list)
    quality: Quality = field(default_factory=Quality)
    published_at: datetime | None = None
    withdrawn_at: datetime | None = None
    events: list[Event] = field(default_factory=list, compare=False)

    @property
    def open_sessions(self) -> list[OfferSession]:
        return [s for s in self.sessions if s.is_open]

    @property
    def is_published(self) -> bool:
        return self.status is OfferStatus.PUBLISHED

    def session(self, session_id: uuid.UUID) -> OfferSession:
        found = next((s for s in self.sessions if s.id == session_id), None)
        if found is None:
            raise NotFound(f"no session {session_id} in offer {self.id}")
        return found

    def revise(
        self,
        content: OfferContent,
        *,
        agrements: Sequence[Agrement],
        subcontractor: Subcontractor | None,
        today: date,
    ) -> None:
        """New terms, every rule checked again (R-OFR-1…5); a published offer is covered (R-OF-1) and
        published again."""
        ensure_editable(self.status)
        checks = check_terms(content.terms, seller_siret=self.siret, subcontractor=subcontractor, today=today)
        place = content.location_problem()
        if place is not None:
            checks.fail(PLACE_RULE, place, field="location")
        if self.is_published:
            checks.extend(
                check_coverage(content.kind, [s.dates for s in self.open_sessions], agrements, subcontractor)
            )
        checks.raise_if_any()
        self.content = content
        self._republish()

    def add_session(
        self,
        session: OfferSession,
        *,
        agrements: Sequence[Agrement],
        subcontractor: Subcontractor | None,
    ) -> None:
        """R-OFR-4 (seats of a mandate session) and R-OF-1/R-OFR-5 (agréments on its dates)."""
        ensure_editable(self.status)
        check_new_session(
            self.content.kind, session.dates, session.capacity, agrements, subcontractor
        ).raise_if_any()
        self.sessions.append(session)
        self.sessions.sort(key=lambda s: (s.start_date, s.id))
        self._republish()

    def publish(
        self, *, now: datetime, agrements: Sequence[Agrement], subcontractor: Subcontractor | None
    ) -> None:
        """A draft with an open session goes public when agréments cover every session (R-OF-1, R-OFR-5)."""
        ensure_publishable(self.status, len(self.open_sessions))
        check_coverage(
            self.content.kind, [s.dates for s in self.open_sessions], agrements, subcontractor
        ).raise_if_any()
        self.status = OfferStatus.PUBLISHED
        self.published_at = now
        self.events.append(self.snapshot())

    def withdraw(self, *, now: datetime, reason: str) -> None:
        """Off the catalogue for good; announced if it was public."""
        ensure_withdrawable(self.status)
        was_published = self.is_published
        self.status = OfferStatus.WITHDRAWN
        self.withdrawn_at = now
        if was_published:
            self.events.append(
                OfferWithdrawn(offer_id=self.id, siret=self.siret, reason=reason, withdrawn_at=now)
            )

    def cancel_session(self, session_id: uuid.UUID, *, reason: str) -> OfferSession:
        """The session will not take place; the dossier service cancels its dossiers on the event."""
        target = self.session(session_id)
        ensure_cancellable(self.status, target.status)
        target.status = SessionStatus.CANCELLED
        if self.is_published:
            self.events.append(
                SessionCancelled(offer_id=self.id, siret=self.siret, session_id=session_id, reason=reason)
            )
        return target

    def stop_uncovered_sessions(self, agrements: Sequence[Agrement], *, reason: str, now: datetime) -> None:
        """R-OF-1 once an agrément is withdrawn: open mandate sessions no agrément covers any more are
        cancelled, and an offer left without an open session is withdrawn."""
        opened = self.open_sessions
        scheduled = [ScheduledSession(s.id, s.start_date, s.end_date) for s in opened]
        lost = sessions_losing_agrement(self.content.kind, scheduled, agrements)
        for lost_session in lost:
            self.cancel_session(lost_session.id, reason=reason)
        if lost and len(lost) == len(opened):
            self.withdraw(now=now, reason=reason)

    def snapshot(self) -> OfferPublished:
        """The full offer as published, with its open sessions: what dossier and funding keep of it."""
        assert self.published_at is not None, "only a published offer has a snapshot"
        content = self.content
        place = content.location
        return OfferPublished(
            offer_id=self.id,
            siret=self.siret,
            kind=content.kind,
            title=content.title,
            theme_code=content.theme_code,
            certification_code=content.certification_code,
            hours=content.hours,
            price_ht_cents=content.price_ht_cents,
            price_ttc_cents=content.price_ttc_cents,
            vat_rate_bp=content.vat_rate_bp,
            modality=content.modality,
            location=(
                OfferLocation(
                    commune_insee=place.commune_insee,
                    postal_code=place.postal_code,
                    city=place.city,
                    department=place.department,
                    region=place.region,
                )
                if place is not None
                else None
            ),
            sessions=[
                PublishedSession(
                    session_id=s.id, start_date=s.start_date, end_date=s.end_date, capacity=s.capacity
                )
                for s in self.open_sessions
            ],
            published_at=self.published_at,
        )

    def _republish(self) -> None:
        if self.is_published:
            self.events.append(self.snapshot())


class ContentChanges(TypedDict, total=False):
    """What a revision may change: everything of the content but its kind."""

    title: str
    summary: str
    objectives: str
    theme_code: str | None
    certification_code: str | None
    hours: Decimal
    price_ht_cents: int
    vat_rate_bp: int
    modality: Modality
    location: Location | None
    subcontracting: Subcontracting | None


def revised(content: OfferContent, changes: ContentChanges) -> OfferContent:
    """The content with some fields replaced (a PATCH)."""
    return replace(content, **changes)
