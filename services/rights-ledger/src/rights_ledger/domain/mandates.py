"""Mandates and what they entitle to: crediting family, end of mandate, reinsertion window.

Rules R-ACC-3, R-ACC-4 and R-END-1.
"""

from __future__ import annotations

import calendar
import enum
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from dife_contracts.enums import HoldRejectionReason, MandateFamily, TrainingPurpose

from rights_ledger.domain.parameters import CAMPAIGN_FAMILY, CampaignFamily, campaign_date

REINSERTION_WINDOW_MONTHS = 6


class AccountStatus(enum.StrEnum):
    INACTIVE = "inactive"
    ACTIVE = "active"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class Mandate:
    mandate_type: MandateFamily
    start: date
    end: date | None = None

    def running_on(self, day: date) -> bool:
        return self.start <= day and (self.end is None or self.end >= day)


def add_months(day: date, months: int) -> date:
    """``day`` plus whole months, clamped to the last day of the month (31 August + 6 → 28/29 February)."""
    total = day.month - 1 + months
    year, month = day.year + total // 12, total % 12 + 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def last_mandate_end(mandates: Iterable[Mandate]) -> date | None:
    """R-END-1: the end of the last local mandate, or None while one is running (or none is known)."""
    ends: list[date] = []
    for mandate in mandates:
        if mandate.end is None:
            return None
        ends.append(mandate.end)
    return max(ends) if ends else None


def rights_usable_until(mandates: Sequence[Mandate], pension_liquidated_on: date | None) -> date | None:
    """R-END-1: last day the rights may be used once every mandate has ended, None while one runs.

    Six months after the last mandate for reinsertion trainings, unless a pension is liquidated: then the
    window closes at the later of the last mandate end and the liquidation.
    """
    last_end = last_mandate_end(mandates)
    if last_end is None:
        return None
    until = add_months(last_end, REINSERTION_WINDOW_MONTHS)
    if pension_liquidated_on is not None:
        until = min(until, max(last_end, pension_liquidated_on))
    return until


def reinsertion_until(mandates: Sequence[Mandate], pension_liquidated_on: date | None) -> date | None:
    """R-END-1: end of the reinsertion window, or None when there is none (mandate running, or pension)."""
    if pension_liquidated_on is not None:
        return None
    return rights_usable_until(mandates, None)


def mandate_training_allowed(mandates: Iterable[Mandate], today: date) -> bool:
    """R-DOS-2 / R-END-1: a mandate training needs a running mandate."""
    return any(m.running_on(today) for m in mandates)


def expiry_due(mandates: Sequence[Mandate], pension_liquidated_on: date | None, as_of: date) -> bool:
    """R-END-1: the balance expires once the window of use is over (strictly after its last day)."""
    until = rights_usable_until(mandates, pension_liquidated_on)
    return until is not None and as_of > until


def hold_rejection(
    *,
    purpose: TrainingPurpose,
    training_start: date,
    training_end: date,
    mandates: Sequence[Mandate],
    pension_liquidated_on: date | None,
    account_status: AccountStatus,
) -> HoldRejectionReason | None:
    """R-END-1 / R-DOS-2: why a hold cannot be placed for this training, or None when it can.

    A mandate training starts and ends inside one mandate. A reinsertion training needs no liquidated
    pension and, once every mandate has ended, must end within the 6-month window *(policy: during a
    running mandate a reinsertion training is eligible too, as the DIFE has always financed them)*.
    """
    if account_status is not AccountStatus.ACTIVE:
        return HoldRejectionReason.ACCOUNT_INACTIVE
    if training_end < training_start:
        return HoldRejectionReason.NOT_ELIGIBLE
    if purpose is TrainingPurpose.MANDATE:
        inside = any(m.start <= training_start and (m.end is None or training_end <= m.end) for m in mandates)
        return None if inside else HoldRejectionReason.NOT_ELIGIBLE
    if pension_liquidated_on is not None or not mandates:
        return HoldRejectionReason.NOT_ELIGIBLE
    until = reinsertion_until(mandates, pension_liquidated_on)
    if until is None:
        return None
    return None if training_end <= until else HoldRejectionReason.NOT_ELIGIBLE


def crediting_family(mandates: Iterable[Mandate], on: date) -> CampaignFamily | None:
    """R-ACC-3: the campaign of the mandate held longest among those running on ``on``.

    Held longest = earliest start; on a tie the municipal family wins (its campaign comes first in the year).
    """
    running = [m for m in mandates if m.running_on(on)]
    if not running:
        return None
    order = {CampaignFamily.MUNICIPAL: 0, CampaignFamily.OTHER: 1}
    longest = min(running, key=lambda m: (m.start, order[CAMPAIGN_FAMILY[m.mandate_type]]))
    return CAMPAIGN_FAMILY[longest.mandate_type]


def credited_in_campaign(mandates: Sequence[Mandate], family: CampaignFamily, year: int) -> bool:
    """R-ACC-1/3/4: whether a year's campaign of ``family`` credits this élu.

    One credit a year is kept apart (the unique key per élu and year).

    A mandate must run on the campaign date (no pro-rata: one started on or before it counts in full) and
    the longest-held running mandate must be of the family. The year's last campaign (``other``, 5 July)
    also credits an élu whose running mandates on its date are municipal but who was not credited in March
    (elected between the two dates, or whose other mandate ended): the first campaign after the start.
    """
    found = crediting_family(mandates, campaign_date(family, year))
    if found is None:
        return False
    return found is family or family is CampaignFamily.OTHER
