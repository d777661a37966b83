"""The fund's position: contributions in, trainings paid out, DIFE committed (DOMAIN.md §6).

The CDC reports it to the national council three times a year; the fund must balance over 3 years, so every
position also carries the rolling 3-year window ending on its last day.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from servicekit.rules import RuleBroken

ROLLING_YEARS = 3


@dataclass(frozen=True, slots=True)
class Flows:
    """Money in and out of the fund over one period (both days included)."""

    start: date
    end: date
    contributions_received_cents: int
    trainings_paid_cents: int

    @property
    def balance_cents(self) -> int:
        return self.contributions_received_cents - self.trainings_paid_cents


@dataclass(frozen=True, slots=True)
class FundPosition:
    period: Flows
    rolling: Flows
    dife_committed_cents: int
    """DIFE holds placed and not yet captured or released, at the end of the period."""


def rolling_start(end: date) -> date:
    """First day of the 3-year window ending on `end`: 2027-06-30 → 2024-07-01 (29 February → 1 March)."""
    try:
        anchor = end.replace(year=end.year - ROLLING_YEARS)
    except ValueError:  # 29 February of a leap year, three years back
        anchor = end.replace(year=end.year - ROLLING_YEARS, day=28)
    return anchor + timedelta(days=1)


def check_period(start: date, end: date) -> None:
    if end < start:
        raise RuleBroken("R-FUND-1", "the period ends before it starts", field="to")
