"""Matching the credits of the fund's bank statement to collectivités and periods (R-CON-4)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from contributions.domain.collectivites import normalise_siren
from contributions.domain.periods import ContributionPeriod, read_creditor_reference
from contributions.domain.settlement import PeriodAccount

_RF_CANDIDATE = re.compile(r"RF\d{2}[0-9A-Z ]{1,30}")
_NINE_DIGITS = re.compile(r"(?<!\d)(\d{3} ?\d{3} ?\d{3})(?!\d)")


class MatchedBy(StrEnum):
    REFERENCE = "reference"
    SIREN_AND_AMOUNT = "siren_and_amount"
    AGENT = "agent"


@dataclass(frozen=True, slots=True)
class BankCredit:
    """One credit booked on the fund's account, as read from a camt.053 statement."""

    id: uuid.UUID
    entry_key: str
    """Unique per credit across statements (statement id + the bank's entry reference or position)."""
    amount_cents: int
    booked_on: date
    reference: str | None
    remittance: str
    debtor_name: str | None


@dataclass(frozen=True, slots=True)
class CreditMatch:
    """Where a credit goes, or why it goes nowhere (then an agent assigns it by hand)."""

    siren: str | None
    period: ContributionPeriod | None
    matched_by: MatchedBy | None
    reason: str | None = None

    @property
    def matched(self) -> bool:
        return self.period is not None


def creditor_references_in(credit: BankCredit) -> list[tuple[str, ContributionPeriod]]:
    """Every valid RF reference of ours in the structured reference, then in the free remittance text."""
    found = []
    for text in (credit.reference or "", credit.remittance):
        for candidate in _RF_CANDIDATE.findall(text.upper()):
            compact = candidate.replace(" ", "")
            for length in range(min(len(compact), 25), 4, -1):
                decoded = read_creditor_reference(compact[:length])
                if decoded is not None:
                    found.append(decoded)
                    break
    return found


def sirens_in(credit: BankCredit) -> list[str]:
    """Valid SIRENs written in the remittance text or the debtor's name."""
    text = f"{credit.reference or ''} {credit.remittance} {credit.debtor_name or ''}"
    sirens = (normalise_siren(raw) for raw in _NINE_DIGITS.findall(text))
    return list(dict.fromkeys(siren for siren in sirens if siren is not None))


def match_credit(
    credit: BankCredit,
    known_sirens: frozenset[str],
    open_periods: Mapping[str, Sequence[PeriodAccount]],
    references: Sequence[tuple[str, ContributionPeriod]] | None = None,
) -> CreditMatch:
    """R-CON-4: a credit quoting a period's RF reference goes to that period; otherwise a credit naming a
    SIREN and exactly the outstanding amount of one of its declared periods goes to the oldest such period;
    anything else is left for an agent, with the reason. `references`: `creditor_references_in(credit)`, when
    the caller has it already."""
    for siren, period in creditor_references_in(credit) if references is None else references:
        if siren in known_sirens:
            return CreditMatch(siren, period, MatchedBy.REFERENCE)
    sirens = [siren for siren in sirens_in(credit) if siren in known_sirens]
    for siren in sirens:
        candidates = sorted(
            (p for p in open_periods.get(siren, ()) if p.outstanding_cents == credit.amount_cents),
            key=lambda account: account.due_date,
        )
        if candidates:
            return CreditMatch(siren, candidates[0].period, MatchedBy.SIREN_AND_AMOUNT)
    if sirens:
        return CreditMatch(
            sirens[0], None, None, "SIREN found but no declared period has this amount outstanding"
        )
    return CreditMatch(None, None, None, "no creditor reference and no known SIREN in the remittance")
