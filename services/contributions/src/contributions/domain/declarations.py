"""Declarations of the allowances a collectivité paid its élus and the 1 % owed on them (R-CON-2, R-CON-4)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime

from dife_contracts.enums import Periodicity
from dife_contracts.events import DeclarationReceived
from dife_contracts.money import percent_of
from servicekit.rules import RuleBroken, RulesBroken

from contributions.domain.collectivites import Collectivite
from contributions.domain.periods import ContributionPeriod
from contributions.domain.policy import ContributionPolicy

MAX_LINE_ALLOWANCE_CENTS = 10_000_000_00
"""No élu receives 10 million euros in a month: a bigger figure is a typing error (or an overflow attempt)."""
MAX_NAME_LENGTH = 200


@dataclass(frozen=True, slots=True)
class LineProblem:
    """Why one line of a declaration cannot be taken; `number`: its line in the file (or item in the list)."""

    number: int
    reason: str


@dataclass(frozen=True, slots=True)
class AllowanceLine:
    """The gross allowance one élu received for one month, municipal increases included (R-CON-1).

    The élu is named by `elu_id` or by family name, given names and birth date (what a payroll tool knows).
    """

    number: int
    month: date
    gross_allowance_cents: int
    family_name: str | None = None
    given_names: str | None = None
    birth_date: date | None = None
    elu_id: uuid.UUID | None = None

    def problems(self, period: ContributionPeriod) -> list[str]:
        reasons = []
        if not period.contains(self.month.year, self.month.month):
            reasons.append(f"month {self.month:%Y-%m} is outside the period {period}")
        if self.elu_id is None and not (self.family_name and self.given_names and self.birth_date):
            reasons.append("the élu is named by elu_id, or by family name, given names and birth date")
        if not 0 <= self.gross_allowance_cents <= MAX_LINE_ALLOWANCE_CENTS:
            reasons.append(
                f"gross allowance must be between 0 and {MAX_LINE_ALLOWANCE_CENTS} cents, "
                f"got {self.gross_allowance_cents}"
            )
        return reasons


@dataclass(slots=True)
class Declaration:
    """One version of a collectivité's declaration for a period; version N+1 replaces N (R-CON-4)."""

    id: uuid.UUID
    siren: str
    period: ContributionPeriod
    version: int
    line_count: int
    allowances_cents: int
    contribution_cents: int
    received_at: datetime
    lines: list[AllowanceLine] = field(default_factory=list)
    line_contributions: list[int] = field(default_factory=list)
    events: list[DeclarationReceived] = field(default_factory=list)


def contribution_of(gross_allowance_cents: int, policy: ContributionPolicy) -> int:
    """R-CON-2: 1 % of one line's gross allowance, rounded half up to the cent (1,234.56 € → 12.35 €)."""
    return percent_of(gross_allowance_cents, policy.contribution_percent)


def refuse_bad_lines(problems: Sequence[LineProblem]) -> None:
    """R-CON-2: a declaration with any bad line is not recorded; every bad line is named with its number."""
    if not problems:
        return
    count = len(problems)
    summary = RuleBroken(
        "R-CON-2",
        f"the declaration was NOT recorded: {count} line{'s' if count > 1 else ''} "
        f"{'are' if count > 1 else 'is'} wrong; fix {'them' if count > 1 else 'it'} and send the whole "
        "declaration again",
        field="lines",
    )
    raise RulesBroken(
        [summary]
        + [RuleBroken("R-CON-2", f"line {p.number}: {p.reason}", field=f"line {p.number}") for p in problems]
    )


def declare(
    collectivite: Collectivite,
    period: ContributionPeriod,
    *,
    periodicity: Periodicity,
    lines: Sequence[AllowanceLine],
    unreadable: Sequence[LineProblem] = (),
    current_version: int,
    received_at: datetime,
    policy: ContributionPolicy,
) -> Declaration:
    """A new version of the period's declaration, or a refusal naming every rule and line broken.

    R-CON-1: only subject collectivités declare. R-CON-3: the period has the collectivité's periodicity for
    that year. R-CON-2: the contribution of each line is 1 % half up, the total is the sum of the lines.
    R-CON-4: `current_version` + 1 replaces the period's current version, which stays in the history.
    """
    collectivite.ensure_subject()
    if period.periodicity is not periodicity:
        raise RuleBroken(
            "R-CON-3",
            f"{collectivite.name} declares {periodicity.value} periods in {period.year} "
            f"(from its last known annual total); {period} is not one",
            field="period",
        )
    problems = list(unreadable)
    for line in lines:
        problems.extend(LineProblem(line.number, reason) for reason in line.problems(period))
    problems.sort(key=lambda problem: problem.number)
    refuse_bad_lines(problems)
    percent = policy.contribution_percent
    contributions = [percent_of(line.gross_allowance_cents, percent) for line in lines]
    declaration = Declaration(
        id=uuid.uuid4(),
        siren=collectivite.siren,
        period=period,
        version=current_version + 1,
        line_count=len(lines),
        allowances_cents=sum(line.gross_allowance_cents for line in lines),
        contribution_cents=sum(contributions),
        received_at=received_at,
        lines=list(lines),
        line_contributions=contributions,
    )
    declaration.events.append(
        DeclarationReceived(
            siren=declaration.siren,
            declaration_id=declaration.id,
            period=str(period),
            periodicity=period.periodicity,
            version=declaration.version,
            line_count=declaration.line_count,
            allowances_cents=declaration.allowances_cents,
            contribution_cents=declaration.contribution_cents,
            received_at=received_at,
        )
    )
    return declaration
