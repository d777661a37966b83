"""R-DOS-2 (with R-OFR-2, R-OFR-4, R-END-1): each reason exactly (rule, field, message), both sides."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import date

from dife_contracts.enums import TrainingPurpose
from dossier.domain.eligibility import (
    EluProfile,
    LiveEnrolment,
    MandatePeriod,
    add_months,
    check_eligibility,
)
from servicekit.rules import RuleBroken

from .conftest import enrolment

TODAY = date(2027, 2, 1)
START = date(2027, 3, 15)


def broken(request, today: date = TODAY) -> list[RuleBroken]:
    return list(check_eligibility(request, today).broken)


def r(message: str, field: str) -> RuleBroken:
    return RuleBroken("R-DOS-2", message, field=field)


def test_account_reasons_are_exact_R_DOS_2() -> None:
    assert broken(replace(enrolment(), elu=None)) == [r("the élu is unknown to the registry", "account")]
    assert broken(enrolment(account_active=False)) == [r("the élu's DIFE account is not active", "account")]


def test_offer_reasons_are_exact_R_DOS_2() -> None:
    request = enrolment()
    assert request.offer is not None
    withdrawn = replace(request, offer=replace(request.offer, published=False))
    assert broken(withdrawn) == [r("the offer is no longer published (withdrawn)", "offer_id")]
    unknown = replace(request, offer=None)
    assert broken(unknown) == [r("the offer is not published in the catalogue", "offer_id")]


def test_a_session_of_another_offer_or_none_is_refused_alone_R_DOS_2() -> None:
    request = enrolment()
    assert request.session is not None
    other = replace(request, session=replace(request.session, offer_id=uuid.uuid4(), cancelled=True))
    assert broken(other) == [r("the session is not a session of this offer", "session_id")]
    assert broken(replace(request, session=None)) == [
        r("the session is not a session of this offer", "session_id")
    ]


def test_a_session_without_a_known_offer_is_still_checked_R_DOS_2() -> None:
    request = enrolment(start=TODAY)
    assert broken(replace(request, offer=None)) == [
        r("the offer is not published in the catalogue", "offer_id"),
        r("the session is not open: it has already started", "session_id"),
    ]


def test_a_session_starting_today_is_refused_and_tomorrow_accepted_R_DOS_2() -> None:
    assert broken(enrolment(start=TODAY)) == [
        r("the session is not open: it has already started", "session_id")
    ]
    assert broken(enrolment(start=date(2027, 2, 2))) == []


def test_a_cancelled_session_gives_only_that_reason_R_DOS_2() -> None:
    request = enrolment(start=TODAY)
    assert request.session is not None
    cancelled = replace(request, session=replace(request.session, cancelled=True))
    assert broken(cancelled) == [r("the session is cancelled", "session_id")]


def test_the_last_seat_and_a_full_session_R_OFR_4() -> None:
    request = enrolment()
    assert request.session is not None
    last_seat = replace(request, session=replace(request.session, capacity=20, seats_taken=14))
    assert broken(last_seat) == []
    full = replace(request, session=replace(request.session, capacity=20, seats_taken=15))
    assert broken(full) == [r("the session is full (R-OFR-4)", "session_id")]
    small = replace(request, session=replace(request.session, capacity=3, seats_taken=3))
    assert broken(small) == [r("the session is full (R-OFR-4)", "session_id")]


def test_a_reinsertion_session_is_not_capped_at_15_R_OFR_4() -> None:
    request = enrolment(kind=TrainingPurpose.REINSERTION)
    assert request.session is not None
    big = replace(request, session=replace(request.session, capacity=20, seats_taken=15))
    assert broken(big) == []
    full = replace(request, session=replace(request.session, capacity=20, seats_taken=20))
    assert broken(full) == [r("the session is full (R-OFR-4)", "session_id")]


def test_overlap_edges_are_inclusive_and_every_overlap_is_listed_R_DOS_2() -> None:
    request = enrolment(start=START, end=date(2027, 3, 17))
    before, after, day_before, day_after = uuid.uuid4(), uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    others = (
        LiveEnrolment(day_before, date(2027, 3, 10), date(2027, 3, 14)),
        LiveEnrolment(before, date(2027, 3, 10), START),
        LiveEnrolment(after, date(2027, 3, 17), date(2027, 3, 20)),
        LiveEnrolment(day_after, date(2027, 3, 18), date(2027, 3, 20)),
    )
    assert broken(replace(request, other_dossiers=others)) == [
        r(f"the session overlaps another live dossier of the élu ({before})", "session_id"),
        r(f"the session overlaps another live dossier of the élu ({after})", "session_id"),
    ]


MANDATE_REASON = r("a mandate training must start and end inside a running mandate", "mandate")


def test_a_mandate_training_on_the_mandates_first_and_last_day_is_accepted_R_DOS_2() -> None:
    mandate = MandatePeriod(START, date(2027, 3, 17))
    assert broken(enrolment(start=START, end=date(2027, 3, 17), mandates=(mandate,))) == []
    assert mandate.covers(START, START)


def test_a_mandate_training_a_day_outside_the_mandate_is_refused_R_DOS_2() -> None:
    starts_after = MandatePeriod(date(2027, 3, 16), None)
    assert broken(enrolment(start=START, mandates=(starts_after,))) == [MANDATE_REASON]
    ends_before = MandatePeriod(date(2020, 1, 1), date(2027, 3, 16))
    assert broken(enrolment(start=START, end=date(2027, 3, 17), mandates=(ends_before,))) == [MANDATE_REASON]
    assert broken(enrolment(start=START, mandates=())) == [MANDATE_REASON]


def test_any_one_mandate_covering_the_training_is_enough_R_DOS_2() -> None:
    mandates = (MandatePeriod(date(2010, 1, 1), date(2014, 3, 1)), MandatePeriod(date(2020, 3, 15), None))
    assert broken(enrolment(start=START, mandates=mandates)) == []


def reinsertion(end: date, *mandates: MandatePeriod, **fields) -> list[RuleBroken]:
    return broken(
        enrolment(start=end, end=end, kind=TrainingPurpose.REINSERTION, mandates=mandates, **fields)
    )


def test_a_reinsertion_training_ending_on_the_6th_month_day_is_accepted_and_the_next_refused_R_END_1() -> (
    None
):
    ended = MandatePeriod(date(2020, 1, 1), date(2026, 8, 31))
    assert reinsertion(date(2027, 2, 28), ended) == []
    assert reinsertion(date(2027, 3, 1), ended) == [
        r(
            "a reinsertion training must end within 6 months after the last mandate (2026-08-31) (R-OFR-2)",
            "mandate",
        )
    ]


def test_the_last_of_several_ended_mandates_counts_R_END_1() -> None:
    mandates = (
        MandatePeriod(date(2010, 1, 1), date(2026, 8, 31)),
        MandatePeriod(date(2000, 1, 1), date(2014, 3, 1)),
    )
    assert reinsertion(date(2027, 2, 28), *mandates) == []


def test_a_reinsertion_training_while_a_mandate_runs_is_accepted_R_END_1() -> None:
    mandates = (MandatePeriod(date(2010, 1, 1), date(2014, 3, 1)), MandatePeriod(date(2020, 1, 1), None))
    assert reinsertion(date(2027, 3, 1), *mandates) == []
    profile = EluProfile(uuid.uuid4(), "M", "C", mandates=mandates)
    assert profile.has_running_mandate() is True
    assert profile.last_mandate_end() is None
    ended = EluProfile(uuid.uuid4(), "M", "C", mandates=mandates[:1])
    assert ended.has_running_mandate() is False
    assert ended.last_mandate_end() == date(2014, 3, 1)
    assert EluProfile(uuid.uuid4(), "M", "C").has_running_mandate() is False


def test_a_reinsertion_training_without_mandate_or_with_a_pension_is_refused_R_DOS_2_R_END_1() -> None:
    assert reinsertion(date(2027, 3, 1)) == [r("the élu holds no mandate", "mandate")]
    running = MandatePeriod(date(2020, 1, 1), None)
    assert reinsertion(date(2027, 3, 1), running, pension_liquidated_on=date(2027, 1, 1)) == [
        r("the élu's pension is liquidated: no reinsertion training any more (R-END-1)", "pension")
    ]


def test_add_months_across_the_year_and_clamped_R_END_1() -> None:
    assert add_months(date(2026, 7, 31), 6) == date(2027, 1, 31)
    assert add_months(date(2026, 6, 30), 6) == date(2026, 12, 30)
    assert add_months(date(2026, 8, 31), 6) == date(2027, 2, 28)
    assert add_months(date(2027, 8, 31), 6) == date(2028, 2, 29)
    assert add_months(date(2026, 12, 15), 6) == date(2027, 6, 15)
    assert add_months(date(2026, 1, 31), 1) == date(2026, 2, 28)
