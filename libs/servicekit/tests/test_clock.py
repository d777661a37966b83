"""The service clock (Paris dates) and the French working-day calendar every legal deadline counts with."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from servicekit.clock import FRENCH_WORKING_DAYS as DAYS
from servicekit.clock import MovableClock, end_of_paris_day, paris_date


def test_the_legal_date_is_the_paris_date_not_the_utc_one() -> None:
    late_evening_utc = datetime(2027, 3, 31, 22, 30, tzinfo=UTC)  # 00:30 on 1 April in Paris (summer time)
    assert paris_date(late_evening_utc) == date(2027, 4, 1)
    winter = datetime(2027, 1, 15, 22, 59, tzinfo=UTC)  # 23:59 in Paris (winter time)
    assert paris_date(winter) == date(2027, 1, 15)


def test_a_naive_datetime_has_no_legal_date() -> None:
    with pytest.raises(ValueError):
        paris_date(datetime(2027, 1, 1, 12, 0))


def test_the_end_of_a_paris_day_is_midnight_paris_time() -> None:
    assert end_of_paris_day(date(2027, 7, 1)) == datetime(2027, 7, 1, 22, 0, tzinfo=UTC)
    assert end_of_paris_day(date(2027, 1, 1)) == datetime(2027, 1, 1, 23, 0, tzinfo=UTC)


def test_a_movable_clock_moves_and_keeps_paris_dates() -> None:
    clock = MovableClock(datetime(2027, 3, 26, 10, 0, tzinfo=UTC))
    clock.advance(timedelta(days=3))
    assert clock.today() == date(2027, 3, 29)
    clock.set_paris(date(2027, 5, 1), hour=0, minute=30)
    assert clock.now() == datetime(2027, 4, 30, 22, 30, tzinfo=UTC)
    assert clock.today() == date(2027, 5, 1)


@pytest.mark.parametrize(
    ("holiday", "name"),
    [
        (date(2027, 1, 1), "New Year"),
        (date(2027, 3, 29), "Easter Monday"),
        (date(2027, 5, 1), "1 May"),
        (date(2027, 5, 6), "Ascension"),
        (date(2027, 5, 8), "8 May"),
        (date(2027, 5, 17), "Whit Monday"),
        (date(2027, 7, 14), "14 July"),
        (date(2027, 8, 15), "15 August"),
        (date(2027, 11, 1), "All Saints"),
        (date(2027, 11, 11), "Armistice"),
        (date(2027, 12, 25), "Christmas"),
    ],
)
def test_french_public_holidays_are_not_working_days(holiday: date, name: str) -> None:
    assert DAYS.is_holiday(holiday), name
    assert not DAYS.is_working_day(holiday), name


def test_weekdays_that_are_no_holiday_are_working_days_and_weekends_are_not() -> None:
    assert DAYS.is_working_day(date(2027, 3, 30))  # a Tuesday
    assert not DAYS.is_working_day(date(2027, 3, 27))  # a Saturday
    assert not DAYS.is_working_day(date(2027, 3, 28))  # a Sunday
    assert not DAYS.is_holiday(date(2027, 12, 26))  # Saint Stephen is Alsace-Moselle only


@pytest.mark.parametrize(
    ("start", "count", "deadline", "why"),
    [
        (date(2027, 3, 24), 2, date(2027, 3, 26), "Wednesday + 2 = Friday, nothing in between"),
        (date(2027, 3, 25), 2, date(2027, 3, 30), "Thursday + 2 crosses the weekend and Easter Monday"),
        (date(2027, 3, 26), 1, date(2027, 3, 30), "Friday + 1 skips Saturday, Sunday and Easter Monday"),
        (date(2027, 4, 29), 2, date(2027, 5, 3), "1 May 2027 is a Saturday: only the weekend is skipped"),
        (date(2026, 4, 30), 1, date(2026, 5, 4), "1 May 2026 is a Friday"),
        (date(2027, 5, 5), 1, date(2027, 5, 7), "Ascension Thursday"),
        (date(2027, 7, 13), 1, date(2027, 7, 15), "14 July"),
        (date(2025, 8, 14), 1, date(2025, 8, 18), "15 August 2025 is a Friday"),
        (date(2027, 10, 29), 1, date(2027, 11, 2), "1 November 2027 is a Monday"),
        (date(2027, 11, 10), 1, date(2027, 11, 12), "11 November"),
        (date(2026, 12, 24), 1, date(2026, 12, 28), "Christmas 2026 is a Friday"),
        (date(2027, 3, 26), 5, date(2027, 4, 5), "5 working days over Easter"),
    ],
)
def test_add_working_days_skips_weekends_and_holidays(
    start: date, count: int, deadline: date, why: str
) -> None:
    assert DAYS.add_working_days(start, count) == deadline, why


def test_the_start_day_never_counts_and_zero_days_is_the_next_working_day() -> None:
    assert DAYS.add_working_days(date(2027, 3, 30), 0) == date(2027, 3, 30)
    assert DAYS.add_working_days(date(2027, 3, 27), 0) == date(2027, 3, 30)  # Saturday → Tuesday after Easter
    with pytest.raises(ValueError):
        DAYS.add_working_days(date(2027, 3, 30), -1)


def test_working_days_between_counts_the_days_after_the_start_up_to_the_end() -> None:
    assert DAYS.working_days_between(date(2027, 3, 25), date(2027, 3, 30)) == 2
    assert DAYS.working_days_between(date(2027, 3, 30), date(2027, 3, 30)) == 0
    assert DAYS.working_days_between(date(2027, 3, 30), date(2027, 3, 25)) == 0
