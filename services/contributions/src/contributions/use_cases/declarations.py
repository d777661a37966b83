"""Receiving a declaration for a period (R-CON-1…4)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from servicekit.clock import paris_date
from servicekit.rules import RuleBroken

from contributions.adapters.repository import DeclarationVersion
from contributions.domain.declarations import AllowanceLine, Declaration, LineProblem, declare
from contributions.domain.periods import ContributionPeriod
from contributions.domain.policy import ContributionPolicy
from contributions.use_cases.collectivites import collectivite_of
from contributions.use_cases.periods import locked_accounts, periodicity_of_year
from contributions.use_cases.ports import Outbox, Repository


async def submit_declaration(
    repository: Repository,
    outbox: Outbox,
    *,
    siren: str,
    period_text: str,
    lines: Sequence[AllowanceLine],
    unreadable: Sequence[LineProblem] = (),
    received_by: str,
    now: datetime,
    policy: ContributionPolicy,
) -> Declaration:
    """Record version N+1 of the period's declaration and settle the period against its payments.

    Refused whole (nothing recorded) when the collectivité is not subject (R-CON-1), a line is bad (R-CON-2),
    the period is not one of its calendar or has not begun (R-CON-3).
    """
    collectivite = await collectivite_of(repository, siren)
    collectivite.ensure_subject()
    period = ContributionPeriod.parse(period_text)
    today = paris_date(now)
    if (period.year, period.first_month) > (today.year, today.month):
        raise RuleBroken("R-CON-3", f"the period {period} has not begun yet", field="period")
    periodicity = await periodicity_of_year(repository, collectivite, period.year, policy, fix=True)
    (account,) = (await locked_accounts(repository, [(siren, period)], policy)).values()
    declaration = declare(
        collectivite,
        period,
        periodicity=periodicity,
        lines=lines,
        unreadable=unreadable,
        current_version=await repository.current_version(siren, str(period)),
        received_at=now,
        policy=policy,
    )
    account.record_declaration(declaration.contribution_cents, today)
    await repository.add_declaration(declaration, received_by)
    await repository.save_periods([account])
    await outbox.add_many([*declaration.events, *account.events])
    return declaration


async def declaration_history(
    repository: Repository, siren: str, period_text: str | None
) -> list[DeclarationVersion]:
    """R-CON-4: every version of the declarations of a collectivité (of one period if given)."""
    await collectivite_of(repository, siren)
    period = None if period_text is None else str(ContributionPeriod.parse(period_text))
    return await repository.declaration_history(siren, period)
