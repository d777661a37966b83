"""The service clock and the French working-day calendar: every legal date is a Europe/Paris date.

Nothing in a service calls `datetime.now()` or `date.today()`: it asks the `Clock` it was given. Production
uses `SystemClock`; tests use `MovableClock` and move time forward (a deadline days away passes without any
`sleep`). Deadlines in working days use `WorkingDays`, built on the `holidays` package: weekends and the
public holidays of metropolitan France are off (Easter Monday, 1 May, 8 May, Ascension, Whit Monday,
14 July, 15 August, 1 and 11 November, 25 December, 1 January).
"""

from __future__ import annotations

import functools
import threading
from datetime import UTC, date, datetime, timedelta
from typing import Protocol
from zoneinfo import ZoneInfo

import holidays

PARIS = ZoneInfo("Europe/Paris")


class Clock(Protocol):
    """What a service knows of time: an aware instant, and the legal (Paris) date."""

    def now(self) -> datetime:
        """The current instant, timezone-aware (UTC)."""
        ...

    def today(self) -> date:
        """The current date in Europe/Paris: the one every legal deadline counts from."""
        ...


def paris_date(instant: datetime) -> date:
    """The Europe/Paris calendar date of an aware instant."""
    if instant.tzinfo is None:
        raise ValueError("a naive datetime has no legal date; pass an aware one")
    return instant.astimezone(PARIS).date()


def end_of_paris_day(day: date) -> datetime:
    """The first instant after `day` in Paris (midnight of the next day), in UTC: "by the end of day D"."""
    return datetime.combine(day + timedelta(days=1), datetime.min.time(), tzinfo=PARIS).astimezone(UTC)


class SystemClock:
    """The machine's clock, read as UTC and converted to Paris dates."""

    def now(self) -> datetime:
        return datetime.now(UTC)

    def today(self) -> date:
        return paris_date(self.now())


class MovableClock:
    """A clock tests set and move; thread-safe so a test and a running app may share it."""

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime.now(UTC)
        if start.tzinfo is None:
            raise ValueError("MovableClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def today(self) -> date:
        return paris_date(self.now())

    def set(self, instant: datetime) -> None:
        if instant.tzinfo is None:
            raise ValueError("MovableClock needs an aware datetime")
        with self._lock:
            self._now = instant.astimezone(UTC)

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now += delta
            return self._now

    def set_paris(self, day: date, hour: int = 12, minute: int = 0) -> None:
        """Put the clock at `day` `hour:minute` Paris time (the usual way a test names a legal moment)."""
        self.set(datetime(day.year, day.month, day.day, hour, minute, tzinfo=PARIS))


@functools.lru_cache(maxsize=64)
def _french_holidays(year: int) -> frozenset[date]:
    return frozenset(holidays.country_holidays("FR", years=year).keys())


class WorkingDays:
    """Working days of metropolitan France: Monday to Friday, except public holidays (`holidays`, FR)."""

    def is_holiday(self, day: date) -> bool:
        return day in _french_holidays(day.year)

    def is_working_day(self, day: date) -> bool:
        return day.weekday() < 5 and not self.is_holiday(day)

    def add_working_days(self, start: date, count: int) -> date:
        """The `count`-th working day after `start` (`start` itself never counts), e.g. R-DOS-1's deadlines.

        `count` = 0 gives `start` when it is a working day, else the next working day.
        """
        if count < 0:
            raise ValueError("count must be >= 0")
        day = start
        if count == 0:
            while not self.is_working_day(day):
                day += timedelta(days=1)
            return day
        remaining = count
        while remaining:
            day += timedelta(days=1)
            if self.is_working_day(day):
                remaining -= 1
        return day

    def working_days_between(self, start: date, end: date) -> int:
        """How many working days lie after `start` up to and including `end` (0 when `end` <= `start`)."""
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_working_day(day):
                count += 1
        return count


FRENCH_WORKING_DAYS = WorkingDays()
