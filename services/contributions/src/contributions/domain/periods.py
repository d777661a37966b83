"""Contribution periods: their shape, their due date, the calendar of a year and the creditor reference a
collectivité quotes when it pays (R-CON-3, R-CON-4)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import NoReturn

from dife_contracts.enums import Periodicity
from servicekit.rules import RuleBroken
from stdnum import iso11649
from stdnum.iso7064 import mod_97_10

from contributions.domain.collectivites import normalise_siren
from contributions.domain.policy import ContributionPolicy

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_QUARTER = re.compile(r"(\d{4})-Q([1-4])")
_YEAR = re.compile(r"(\d{4})")
_COMPACT_PERIOD = re.compile(r"(\d{4})(0[1-9]|1[0-2]|Q[1-4])?")
MIN_YEAR, MAX_YEAR = 2000, 2100


@dataclass(frozen=True, slots=True)
class ContributionPeriod:
    """A month (`2026-03`), a quarter (`2026-Q1`) or a year (`2026`) of contributions."""

    year: int
    periodicity: Periodicity
    index: int = 1
    """The month (1-12), the quarter (1-4), or 1 for a year."""

    @classmethod
    def parse(cls, text: str) -> ContributionPeriod:
        """R-CON-3: `2026-03` is a month, `2026-Q1` a quarter, `2026` a year; anything else is refused."""
        if isinstance(text, str) and len(text) <= 7:
            for pattern, periodicity in (
                (_MONTH, Periodicity.MONTHLY),
                (_QUARTER, Periodicity.QUARTERLY),
                (_YEAR, Periodicity.YEARLY),
            ):
                found = pattern.fullmatch(text)
                if found and MIN_YEAR <= int(found.group(1)) <= MAX_YEAR:
                    index = int(found.group(2)) if found.lastindex == 2 else 1
                    return cls(int(found.group(1)), periodicity, index)
        _refuse(text)

    def __str__(self) -> str:
        if self.periodicity is Periodicity.MONTHLY:
            return f"{self.year}-{self.index:02d}"
        if self.periodicity is Periodicity.QUARTERLY:
            return f"{self.year}-Q{self.index}"
        return f"{self.year}"

    @property
    def first_month(self) -> int:
        if self.periodicity is Periodicity.MONTHLY:
            return self.index
        if self.periodicity is Periodicity.QUARTERLY:
            return 3 * self.index - 2
        return 1

    @property
    def last_month(self) -> int:
        if self.periodicity is Periodicity.MONTHLY:
            return self.index
        if self.periodicity is Periodicity.QUARTERLY:
            return 3 * self.index
        return 12

    @property
    def sort_key(self) -> tuple[int, int, int]:
        return (self.year, self.first_month, self.last_month)

    def contains(self, year: int, month: int) -> bool:
        return year == self.year and self.first_month <= month <= self.last_month

    def due_date(self, policy: ContributionPolicy) -> date:
        """R-CON-3: monthly and quarterly periods are due on the 15th of the month after the period; a year
        *(policy)* on 15 January of the next year."""
        if self.periodicity is Periodicity.YEARLY:
            return date(self.year + 1, policy.yearly_due_month, policy.yearly_due_day)
        if self.last_month == 12:
            return date(self.year + 1, 1, policy.due_day)
        return date(self.year, self.last_month + 1, policy.due_day)


def _refuse(text: object) -> NoReturn:
    raise RuleBroken(
        "R-CON-3",
        f"{str(text)[:20]!r} is not a period: write a month 2026-03, a quarter 2026-Q1 or a year 2026 "
        f"(years {MIN_YEAR}-{MAX_YEAR})",
        field="period",
    )


def periodicity_for(annual_total_cents: int, policy: ContributionPolicy) -> Periodicity:
    """R-CON-3: > 3,500 € a year monthly; 500 € to 3,500 € (both included) quarterly; < 500 € yearly."""
    if annual_total_cents > policy.monthly_above_cents:
        return Periodicity.MONTHLY
    if annual_total_cents >= policy.yearly_below_cents:
        return Periodicity.QUARTERLY
    return Periodicity.YEARLY


def periods_of_year(year: int, periodicity: Periodicity) -> list[ContributionPeriod]:
    """The calendar of one year for one periodicity (R-CON-3)."""
    count = {Periodicity.MONTHLY: 12, Periodicity.QUARTERLY: 4, Periodicity.YEARLY: 1}[periodicity]
    return [ContributionPeriod(year, periodicity, index) for index in range(1, count + 1)]


def creditor_reference(siren: str, period: ContributionPeriod) -> str:
    """The ISO 11649 structured creditor reference (`RF…`) a collectivité quotes when paying a period.

    The body is the SIREN then the period without its dash (`217500016` `2026Q1`), so a reference names its
    collectivité and period by itself: matching a bank credit needs no lookup table (R-CON-4).
    """
    body = f"{siren}{str(period).replace('-', '')}"
    return f"RF{mod_97_10.calc_check_digits(body + 'RF')}{body}"


def read_creditor_reference(text: str) -> tuple[str, ContributionPeriod] | None:
    """The SIREN and period of a valid RF reference of ours, or None (wrong check digits, someone else's)."""
    reference = iso11649.compact(text) if isinstance(text, str) else ""
    if not reference.startswith("RF") or not iso11649.is_valid(reference):
        return None
    body = reference[4:]
    siren = normalise_siren(body[:9])
    found = _COMPACT_PERIOD.fullmatch(body[9:])
    if siren is None or found is None:
        return None
    suffix = found.group(2)
    text_period = found.group(1) if suffix is None else f"{found.group(1)}-{suffix}"
    try:
        return siren, ContributionPeriod.parse(text_period)
    except RuleBroken:
        return None


def last_known_annual_total(previous_year_cents: int | None, reference_annual_cents: int | None) -> int:
    """R-CON-3: the contribution declared for the previous year when there is one, else the annual total
    known when the collectivité was registered, else nothing (0: yearly until a year is declared)."""
    if previous_year_cents is not None:
        return previous_year_cents
    return reference_annual_cents or 0
