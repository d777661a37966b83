"""Calendars and period accounts, shared by declarations, payments and the late job (R-CON-3)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from dife_contracts.enums import Periodicity, PeriodStatus
from servicekit.rules import RuleBroken

from contributions.domain.collectivites import Collectivite
from contributions.domain.periods import (
    ContributionPeriod,
    creditor_reference,
    last_known_annual_total,
    periodicity_for,
    periods_of_year,
)
from contributions.domain.policy import ContributionPolicy
from contributions.domain.settlement import PeriodAccount, status_of
from contributions.use_cases.ports import Repository


async def periodicity_of_year(
    repository: Repository, collectivite: Collectivite, year: int, policy: ContributionPolicy, *, fix: bool
) -> Periodicity:
    """R-CON-3: the periodicity of a year, from the last known annual total; fixed the first time it is used
    (`fix`), so a late correction of the previous year does not reshape a calendar already in use."""
    fixed = await repository.calendar(collectivite.siren, year)
    if fixed is not None:
        return fixed
    previous = await repository.declared_total(collectivite.siren, year - 1)
    basis = last_known_annual_total(previous, collectivite.reference_annual_cents)
    periodicity = periodicity_for(basis, policy)
    if fix:
        return await repository.fix_calendar(collectivite.siren, year, periodicity, basis)
    return periodicity


async def ensure_period_of_calendar(
    repository: Repository, collectivite: Collectivite, period: ContributionPeriod, policy: ContributionPolicy
) -> None:
    """R-CON-3: a collectivité declares and pays the periods of its own calendar for that year."""
    periodicity = await periodicity_of_year(repository, collectivite, period.year, policy, fix=True)
    if period.periodicity is not periodicity:
        raise RuleBroken(
            "R-CON-3",
            f"{collectivite.name} has {periodicity.value} periods in {period.year} "
            f"(from its last known annual total); {period} is not one",
            field="period",
        )


def blank_account(
    siren: str, period: ContributionPeriod, policy: ContributionPolicy, today: date
) -> PeriodAccount:
    """A period nothing happened to yet, with its status on `today` (for display)."""
    due = period.due_date(policy)
    return PeriodAccount(siren, period, due, status=status_of(None, 0, due, today))


def new_account(siren: str, period: ContributionPeriod, policy: ContributionPolicy) -> PeriodAccount:
    """A period to store: `due` until a declaration, a payment or the late job looks at it, so that the
    step that finds it late also emits `period_late` (R-CON-3)."""
    return PeriodAccount(siren, period, period.due_date(policy), status=PeriodStatus.DUE)


async def locked_accounts(
    repository: Repository,
    wanted: Iterable[tuple[str, ContributionPeriod]],
    policy: ContributionPolicy,
) -> dict[tuple[str, str], PeriodAccount]:
    """The periods' accounts, created when missing, locked until the transaction ends."""
    templates = {(siren, str(period)): new_account(siren, period, policy) for siren, period in wanted}
    await repository.insert_periods(list(templates.values()))
    return await repository.periods_for_update(templates.keys())


@dataclass(frozen=True, slots=True)
class CalendarEntry:
    """One period of a collectivité's calendar as the collectivité and agents see it."""

    period: ContributionPeriod
    due_date: date
    creditor_reference: str
    declared_cents: int | None
    paid_cents: int
    status: PeriodStatus


async def calendar(
    repository: Repository, collectivite: Collectivite, year: int, policy: ContributionPolicy, today: date
) -> tuple[Periodicity, list[CalendarEntry]]:
    """R-CON-3: every period of the year with its due date, RF reference and status (read only); none for a
    collectivité that is not subject (R-CON-1)."""
    periodicity = await periodicity_of_year(repository, collectivite, year, policy, fix=False)
    if not collectivite.is_subject:
        return periodicity, []
    stored = {
        str(account.period): account for account in await repository.periods_of(collectivite.siren, year)
    }
    accounts = dict(stored)
    for period in periods_of_year(year, periodicity):
        accounts.setdefault(str(period), blank_account(collectivite.siren, period, policy, today))
    entries = [
        CalendarEntry(
            period=account.period,
            due_date=account.due_date,
            creditor_reference=creditor_reference(collectivite.siren, account.period),
            declared_cents=account.declared_cents,
            paid_cents=account.paid_cents,
            status=account.status,
        )
        for account in accounts.values()
    ]
    return periodicity, sorted(entries, key=lambda entry: entry.period.sort_key)
