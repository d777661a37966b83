"""Builders of dossiers and read models for the unit tests (no I/O)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest
from dife_contracts.enums import DossierStatus, TrainingPurpose
from dossier.domain.dossier import Actor, Dossier, FundingPlan, PlanLineView, PlanStatus
from dossier.domain.eligibility import (
    EluProfile,
    EnrolmentRequest,
    MandatePeriod,
    OfferSnapshot,
    SessionSnapshot,
)
from servicekit.clock import PARIS

ELU = Actor("elu", "elu-a")
OF = Actor("organisme", "12345678900011")
AGENT = Actor("agent", "agent-1")
SYSTEM = Actor("system", "timer")
SIRET = "12345678900011"


def paris(day: date, hour: int = 12, minute: int = 0) -> datetime:
    return datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS)


def enrolment(
    *,
    start: date = date(2027, 3, 15),
    end: date | None = None,
    kind: TrainingPurpose = TrainingPurpose.MANDATE,
    **elu_fields: Any,
) -> EnrolmentRequest:
    offer_id = uuid.uuid4()
    elu = EluProfile(
        elu_id=uuid.uuid4(),
        family_name="Martin",
        given_names="Claire",
        account_active=True,
        mandates=(MandatePeriod(date(2020, 3, 15), None),),
    )
    return EnrolmentRequest(
        elu=replace(elu, **elu_fields),
        offer=OfferSnapshot(
            offer_id=offer_id,
            siret=SIRET,
            kind=kind,
            title="Finances locales",
            theme_code="FAL-03",
            hours=Decimal("7"),
            price_cents=56_000,
            department="69",
            organisme_name="Institut des élus",
        ),
        session=SessionSnapshot(
            session_id=uuid.uuid4(), offer_id=offer_id, start=start, end=end or start, capacity=15
        ),
    )


def submitted(now: datetime | None = None, **kwargs: Any) -> Dossier:
    dossier = Dossier.submit(uuid.uuid4(), enrolment(**kwargs), actor=ELU, now=now or paris(date(2027, 2, 1)))
    return dossier


READY = FundingPlan(status=PlanStatus.READY, lines=(PlanLineView("dife", 56_000),))


def in_status(status: DossierStatus) -> Dossier:
    """A dossier brought to `status` through the real commands (training on 2027-03-15)."""
    start = date(2027, 3, 15)
    dossier = submitted(paris(date(2027, 2, 1)), start=start)
    if status is DossierStatus.SUBMITTED:
        return dossier
    if status is DossierStatus.REFUSED_BY_ORGANISME:
        dossier.refuse_by_organisme(actor=OF, now=paris(date(2027, 2, 2)), reason="full")
        return dossier
    if status is DossierStatus.EXPIRED:
        dossier.expire(actor=SYSTEM, now=paris(date(2027, 2, 4), 0, 0))
        return dossier
    if status is DossierStatus.CANCELLED_BY_ORGANISME:
        dossier.cancel_by_organisme(actor=OF, now=paris(date(2027, 2, 2)), reason="trainer ill")
        return dossier
    dossier.validate(actor=OF, now=paris(date(2027, 2, 2)))
    dossier.record_plan(READY)
    if status is DossierStatus.VALIDATED:
        return dossier
    if status is DossierStatus.REFUSED_BY_ELU:
        dossier.refuse_by_elu(actor=ELU, now=paris(date(2027, 2, 3)), reason="too far")
        return dossier
    if status is DossierStatus.CANCELLED_BY_FINANCER:
        dossier.cancel_by_financer(actor=AGENT, now=paris(date(2027, 2, 3)), reason="plan failed")
        return dossier
    dossier.accept(actor=ELU, now=paris(date(2027, 2, 3)))
    if status is DossierStatus.ACCEPTED:
        return dossier
    if status is DossierStatus.CANCELLED_BY_ELU:
        dossier.cancel_by_elu(actor=ELU, now=paris(date(2027, 2, 4)), reason="moved", force_majeure=False)
        return dossier
    dossier.declare_entry(actor=OF, now=paris(start, 18), entry_on=start)
    if status is DossierStatus.IN_TRAINING:
        return dossier
    dossier.declare_exit(actor=OF, now=paris(start, 19), exit_on=start, hours_attended=Decimal("7"))
    if status is DossierStatus.SERVICE_DONE_DECLARED:
        return dossier
    if status is DossierStatus.COMPLETED:
        # `completed` lasts only inside the exit command; rebuild it as the exit leaves it midway.
        dossier.status = DossierStatus.COMPLETED
        return dossier
    dossier.validate_service_done_automatically(actor=SYSTEM, now=paris(date(2027, 3, 23), 0, 0))
    if status is DossierStatus.SERVICE_DONE_VALIDATED:
        return dossier
    dossier.mark_paid(
        actor=SYSTEM, now=paris(date(2027, 4, 2)), amount_cents=56_000, paid_on=date(2027, 4, 2)
    )
    assert status is DossierStatus.PAID
    return dossier


@pytest.fixture
def dossier_in() -> Callable[[DossierStatus], Dossier]:
    return in_status
