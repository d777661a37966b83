"""The contribution's figures in one place (R-CON-3); the app may build another `ContributionPolicy` from
settings, the domain never reads a constant of its own."""

from __future__ import annotations

from dataclasses import dataclass

from dife_contracts.money import euros


@dataclass(frozen=True, slots=True)
class ContributionPolicy:
    """R-CON-2 and R-CON-3 as data.

    `contribution_percent`: the share of gross allowances withheld (1 %). Periodicity comes from the last
    known annual total of the contribution: above `monthly_above_cents` monthly, from `yearly_below_cents`
    up to `monthly_above_cents` (both included) quarterly, below `yearly_below_cents` yearly. Monthly and
    quarterly periods are due on `due_day` of the month after the period; a yearly period *(policy)* on
    `yearly_due_day`/`yearly_due_month` of the next year.
    """

    contribution_percent: int = 1
    monthly_above_cents: int = euros(3_500)
    yearly_below_cents: int = euros(500)
    due_day: int = 15
    yearly_due_month: int = 1
    yearly_due_day: int = 15


DEFAULT_POLICY = ContributionPolicy()
