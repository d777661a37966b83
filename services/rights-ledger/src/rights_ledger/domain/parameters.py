"""Dated parameters of the DIFE: yearly credit, cap and crediting calendar (R-ACC-1, R-ACC-2, R-ACC-3).

They are data, not constants: each rule reads the row in force at the date it applies to, and a new arrêté is
one more row in :data:`RIGHTS_PARAMETERS`.
"""

from __future__ import annotations

import enum
from bisect import bisect_right
from dataclasses import dataclass
from datetime import date

from dife_contracts.enums import MandateFamily


class CampaignFamily(enum.StrEnum):
    """R-ACC-3: the two crediting campaigns of a year."""

    MUNICIPAL = "municipal"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class CampaignRef:
    """Which campaign a credit comes from: one year's campaign of one family (R-ACC-3)."""

    year: int
    family: CampaignFamily


@dataclass(frozen=True, slots=True)
class RightsParameters:
    """R-ACC-1/R-ACC-2: the yearly credit and the cap of the counter, in force from ``effective_from``."""

    effective_from: date
    yearly_credit_cents: int
    cap_cents: int
    legal_basis: str


RIGHTS_PARAMETERS: tuple[RightsParameters, ...] = (
    RightsParameters(date(1900, 1, 1), 40_000, 150_000, "before 2022"),
    RightsParameters(date(2022, 1, 1), 40_000, 70_000, "2022–2023 regime"),
    RightsParameters(date(2023, 3, 27), 40_000, 80_000, "arrêté of 27 March 2023"),
)


def parameters_at(day: date, table: tuple[RightsParameters, ...] = RIGHTS_PARAMETERS) -> RightsParameters:
    """R-ACC-2: the parameters in force on ``day`` (the latest row whose ``effective_from`` ≤ ``day``)."""
    index = bisect_right([row.effective_from for row in table], day) - 1
    if index < 0:
        raise ValueError(f"no DIFE parameters in force on {day.isoformat()}")
    return table[index]


MAX_CAP_CENTS = max(row.cap_cents for row in RIGHTS_PARAMETERS)

# R-ACC-3: anniversary of the third Monday after the first round of the general election, per mandate type.
CREDIT_CALENDAR: dict[MandateFamily, tuple[int, int]] = {
    MandateFamily.MUNICIPAL: (3, 30),
    MandateFamily.COMMUNAUTAIRE: (3, 30),
    MandateFamily.ARRONDISSEMENT: (3, 30),
    MandateFamily.DEPARTMENTAL: (7, 5),
    MandateFamily.REGIONAL: (7, 5),
    MandateFamily.SPECIAL_STATUS: (7, 5),
}

CAMPAIGN_FAMILY: dict[MandateFamily, CampaignFamily] = {
    MandateFamily.MUNICIPAL: CampaignFamily.MUNICIPAL,
    MandateFamily.COMMUNAUTAIRE: CampaignFamily.MUNICIPAL,
    MandateFamily.ARRONDISSEMENT: CampaignFamily.MUNICIPAL,
    MandateFamily.DEPARTMENTAL: CampaignFamily.OTHER,
    MandateFamily.REGIONAL: CampaignFamily.OTHER,
    MandateFamily.SPECIAL_STATUS: CampaignFamily.OTHER,
}


def crediting_date(mandate_type: MandateFamily, year: int) -> date:
    """R-ACC-3: municipal and communautaire mandates on 30 March, départemental and régional on 5 July."""
    month, day = CREDIT_CALENDAR[mandate_type]
    return date(year, month, day)


def campaign_date(family: CampaignFamily, year: int) -> date:
    """R-ACC-3: the date of a year's campaign for one family (every mandate type of it shares the date)."""
    dates = {crediting_date(t, year) for t, f in CAMPAIGN_FAMILY.items() if f is family}
    if len(dates) != 1:
        raise ValueError(f"the calendar gives family {family} several dates in {year}")
    return dates.pop()


def credit_amount(balance_cents: int, parameters: RightsParameters) -> int:
    """R-ACC-1/R-ACC-2: ``min(yearly credit, cap − balance)``, never negative."""
    return max(0, min(parameters.yearly_credit_cents, parameters.cap_cents - balance_cents))
