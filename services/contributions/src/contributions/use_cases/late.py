"""The late job's use case: materialise the calendars' past periods and mark unpaid ones late (R-CON-3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import structlog
from dife_contracts.enums import Periodicity

from contributions.domain.collectivites import SUBJECT_TYPES
from contributions.domain.periods import (
    ContributionPeriod,
    last_known_annual_total,
    periodicity_for,
    periods_of_year,
)
from contributions.domain.policy import ContributionPolicy
from contributions.domain.settlement import PeriodAccount
from contributions.use_cases.periods import new_account
from contributions.use_cases.ports import Outbox, Repository

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class LateReport:
    periods_created: int
    marked_late: int


def _first_due_date_of_year(year: int, policy: ContributionPolicy) -> date:
    return ContributionPeriod(year, Periodicity.MONTHLY, 1).due_date(policy)


async def mark_late_periods(
    repository: Repository, outbox: Outbox, *, today: date, policy: ContributionPolicy
) -> LateReport:
    """R-CON-3: every period past its due date and not paid becomes late and `period_late` is emitted once.

    Periods nobody declared or paid are created from the calendars first, so silence is late too (periods due
    before the collectivité was registered excepted: the fund could not expect them). A year's calendar is
    fixed here only once its first possible due date has passed (15 February), when the previous year's
    declarations (due 15 January) are in. Set-based: a few queries whatever the number of collectivités.
    """
    years = [year for year in (today.year - 1, today.year) if today > _first_due_date_of_year(year, policy)]
    fixed = await repository.calendars_of(years)
    totals = await repository.declared_totals([year - 1 for year in years])
    to_fix: list[tuple[str, int, Periodicity, int]] = []
    blanks: list[PeriodAccount] = []
    for collectivite in await repository.subject_collectivites(t.value for t in SUBJECT_TYPES):
        for year in years:
            if year < collectivite.registered_on.year:
                continue
            periodicity = fixed.get((collectivite.siren, year))
            if periodicity is None:
                basis = last_known_annual_total(
                    totals.get((collectivite.siren, year - 1)), collectivite.reference_annual_cents
                )
                periodicity = periodicity_for(basis, policy)
                to_fix.append((collectivite.siren, year, periodicity, basis))
            for period in periods_of_year(year, periodicity):
                if collectivite.registered_on < period.due_date(policy) < today:
                    blanks.append(new_account(collectivite.siren, period, policy))
    await repository.fix_calendars(to_fix)
    await repository.insert_periods(blanks)
    late = [account for account in await repository.open_periods_due_before(today) if account.refresh(today)]
    await repository.save_periods(late)
    await outbox.add_many([event for account in late for event in account.events])
    log.info("late sweep", today=today.isoformat(), periods_created=len(blanks), marked_late=len(late))
    return LateReport(periods_created=len(blanks), marked_late=len(late))
