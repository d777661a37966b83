"""R-DOS-2 (with R-OFR-2, R-OFR-4, R-END-1 at enrolment): every reason listed, both sides of each edge."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

import pytest
from dife_contracts.enums import TrainingPurpose
from dossier.domain.dossier import Dossier
from dossier.domain.eligibility import (
    LiveEnrolment,
    MandatePeriod,
    add_months,
    check_eligibility,
    seats_of,
)
from servicekit.rules import RulesBroken

from .conftest import ELU, enrolment, paris

TODAY = date(2027, 2, 1)


def reasons(request, today: date = TODAY) -> set[str | None]:
    return {broken.field for broken in check_eligibility(request, today).broken}


def test_an_eligible_request_breaks_nothing_R_DOS_2() -> None:
    assert reasons(enrolment()) == set()


def test_an_inactive_account_is_refused_R_DOS_2() -> None:
    assert reasons(enrolment(account_active=False)) == {"account"}


def test_an_unknown_elu_is_refused_R_DOS_2() -> None:
    assert reasons(replace(enrolment(), elu=None)) == {"account"}


def test_a_mandate_training_must_end_inside_a_running_mandate_R_DOS_2() -> None:
    ends_on_the_day = enrolment(mandates=(MandatePeriod(date(2020, 3, 15), date(2027, 3, 15)),))
    ends_the_day_before = enrolment(mandates=(MandatePeriod(date(2020, 3, 15), date(2027, 3, 14)),))
    starts_after = enrolment(mandates=(MandatePeriod(date(2027, 3, 16), None),))
    assert reasons(ends_on_the_day) == set()
    assert reasons(ends_the_day_before) == {"mandate"}
    assert reasons(starts_after) == {"mandate"}


def test_a_reinsertion_training_ends_within_6_months_after_the_last_mandate_R_OFR_2() -> None:
    ended = (MandatePeriod(date(2020, 3, 15), date(2026, 9, 15)),)
    on_the_edge = enrolment(kind=TrainingPurpose.REINSERTION, start=date(2027, 3, 15), mandates=ended)
    a_day_late = enrolment(
        kind=TrainingPurpose.REINSERTION, start=date(2027, 3, 15), end=date(2027, 3, 16), mandates=ended
    )
    assert add_months(date(2026, 9, 15), 6) == date(2027, 3, 15)
    assert reasons(on_the_edge) == set()
    assert reasons(a_day_late) == {"mandate"}


def test_a_reinsertion_training_is_refused_once_a_pension_is_liquidated_R_DOS_2() -> None:
    request = enrolment(kind=TrainingPurpose.REINSERTION, pension_liquidated_on=date(2026, 12, 31))
    assert reasons(request) == {"pension"}
    assert reasons(enrolment(kind=TrainingPurpose.MANDATE, pension_liquidated_on=date(2026, 12, 31))) == set()


def test_a_withdrawn_or_unknown_offer_is_refused_R_DOS_2() -> None:
    request = enrolment()
    assert request.offer is not None
    assert "offer_id" in reasons(replace(request, offer=replace(request.offer, published=False)))
    assert "offer_id" in reasons(replace(request, offer=None))


def test_a_session_must_not_have_started_R_DOS_2() -> None:
    request = enrolment(start=date(2027, 2, 2))
    assert reasons(request, today=date(2027, 2, 1)) == set()
    assert reasons(request, today=date(2027, 2, 2)) == {"session_id"}


def test_a_cancelled_session_is_refused_R_DOS_2() -> None:
    request = enrolment()
    assert request.session is not None
    assert reasons(replace(request, session=replace(request.session, cancelled=True))) == {"session_id"}


def test_a_full_session_is_refused_and_the_last_seat_is_not_R_OFR_4() -> None:
    request = enrolment()
    assert request.session is not None
    last_seat = replace(request, session=replace(request.session, seats_taken=14))
    full = replace(request, session=replace(request.session, seats_taken=15))
    assert reasons(last_seat) == set()
    assert reasons(full) == {"session_id"}


def test_a_mandate_session_never_has_more_than_15_seats_R_OFR_4() -> None:
    request = enrolment()
    assert request.offer is not None and request.session is not None
    assert seats_of(request.offer, replace(request.session, capacity=40)) == 15


def test_overlapping_another_live_dossier_is_refused_and_the_next_day_is_not_R_DOS_2() -> None:
    request = enrolment(start=date(2027, 3, 15), end=date(2027, 3, 16))
    touching = LiveEnrolment(uuid.uuid4(), date(2027, 3, 16), date(2027, 3, 17))
    next_day = LiveEnrolment(uuid.uuid4(), date(2027, 3, 17), date(2027, 3, 18))
    assert reasons(replace(request, other_dossiers=(touching,))) == {"session_id"}
    assert reasons(replace(request, other_dossiers=(next_day,))) == set()


def test_every_reason_is_listed_at_once_R_DOS_2() -> None:
    request = enrolment(account_active=False, mandates=())
    assert request.offer is not None and request.session is not None
    request = replace(
        request,
        offer=replace(request.offer, published=False),
        session=replace(request.session, seats_taken=15, cancelled=True),
    )
    with pytest.raises(RulesBroken) as refused:
        Dossier.submit(uuid.uuid4(), request, actor=ELU, now=paris(TODAY))
    assert set(refused.value.rule_ids) == {"R-DOS-2"}
    assert len(refused.value.broken) == 5  # account, offer, session cancelled, session full, mandate


def test_submission_sets_the_answer_deadline_and_records_the_event_R_DOS_1() -> None:
    request = enrolment(start=date(2027, 5, 3))
    dossier = Dossier.submit(uuid.uuid4(), request, actor=ELU, now=paris(date(2027, 3, 26), 15))
    assert dossier.answer_by == date(2027, 3, 31)  # Friday, Easter Monday off
    assert dossier.events[0].answer_deadline == date(2027, 3, 31)
