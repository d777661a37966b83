"""The late job's use case: materialise the calendars' past periods and mark unpaid ones late (R-CON-3)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from dife_contracts.enums import Periodicity

from contributions.domain.collectivites import SUBJECT_TYPES
from contributions.domain.periods import ContributionPeriod, periods_of_year
from contributions.domain.policy import ContributionPolicy
from contributions.use_cases.periods import new_account, periodicity_of_year
from contributions.use_cases.ports import Outbox, Repository


@dataclass(frozen=True, slots=True)
class LateReport:
    marked_late: int


def _first_due_date_of_year(year: int, policy: ContributionPolicy) -> date:
    return ContributionPeriod(year, Periodicity.MONTHLY, 1).due_date(policy)


async def mark_late_periods(
    repository: Repository, outbox: Outbox, *, today: date, policy: ContributionPolicy
) -> LateReport:
    """R-CON-3: every period past its due date and not paid becomes late and `period_late` is emitted once.

    Periods nobody declared or paid are created from the calendars first, so silence is late too (periods due
    before the collectivité was registered excepted: the fund could not expect them). A year's
    calendar is fixed here only once its first possible due date has passed (15 February), when the
    previous year's declarations (due 15 January) are in.
    """
    blanks = []
    for collectivite in await repository.subject_collectivites(t.value for t in SUBJECT_TYPES):
        first_year = max(collectivite.registered_on.year, today.year - 1)
        for year in range(first_year, today.year + 1):
            if today <= _first_due_date_of_year(year, policy):
                continue
            periodicity = await periodicity_of_year(repository, collectivite, year, policy, fix=True)
            for period in periods_of_year(year, periodicity):
                if collectivite.registered_on < period.due_date(policy) < today:
                    blanks.append(new_account(collectivite.siren, period, policy))
    for start in range(0, len(blanks), 5_000):
        await repository.insert_periods(blanks[start : start + 5_000])
    marked = 0
    for account in await repository.open_periods_due_before(today):
        if account.refresh(today):
            marked += 1
            await repository.save_periods([account])
            await outbox.add_many(account.events)
    return LateReport(marked)
