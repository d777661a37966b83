"""Deadlines of a dossier in French working days (R-DOS-1, R-DOS-3, R-DOS-4).

Every legal date is a Europe/Paris date; "by the end of day D" is the instant `end_of_paris_day(D)`. Working
days are Monday to Friday except the public holidays of metropolitan France (`servicekit.clock`).
"""

from __future__ import annotations

from datetime import date, datetime

from servicekit.clock import FRENCH_WORKING_DAYS, end_of_paris_day

ANSWER_WORKING_DAYS = 2
"""R-DOS-1: the organisme answers a request by the end of the 2nd working day after its submission."""

ACCEPT_WORKING_DAYS = 4
"""R-DOS-1: the élu accepts a proposal by the end of the 4th working day after its validation."""

DECLARATION_WORKING_DAYS = 3
"""R-DOS-3: entry and exit are declared within 3 working days of the day they happened."""

AUTO_VALIDATION_WORKING_DAYS = 5
"""R-DOS-4: service done is validated at the end of the 5th working day after its declaration."""

FREE_CANCELLATION_WORKING_DAYS = 7
"""R-DOS-5: an élu cancelling MORE than this many working days before the start keeps the rights."""


def answer_by(submitted_on: date) -> date:
    """R-DOS-1: last day for the organisme to validate or refuse a request."""
    return FRENCH_WORKING_DAYS.add_working_days(submitted_on, ANSWER_WORKING_DAYS)


def accept_by(validated_on: date) -> date:
    """R-DOS-1: last day for the élu to accept or refuse the organisme's proposal."""
    return FRENCH_WORKING_DAYS.add_working_days(validated_on, ACCEPT_WORKING_DAYS)


def declare_by(happened_on: date) -> date:
    """R-DOS-3: last day to declare an entry or an exit that happened on `happened_on`."""
    return FRENCH_WORKING_DAYS.add_working_days(happened_on, DECLARATION_WORKING_DAYS)


def auto_validation_on(declared_on: date) -> date:
    """R-DOS-4: the day at whose end a declared service done is validated automatically."""
    return FRENCH_WORKING_DAYS.add_working_days(declared_on, AUTO_VALIDATION_WORKING_DAYS)


def passed(day: date, now: datetime) -> bool:
    """True once day `day` is over in Paris: a deadline "by the end of `day`" has passed at `now`."""
    return now >= end_of_paris_day(day)


def working_days_before(today: date, start: date) -> int:
    """How many working days lie after `today` up to and including `start` (0 once the start is reached)."""
    return FRENCH_WORKING_DAYS.working_days_between(today, start)
