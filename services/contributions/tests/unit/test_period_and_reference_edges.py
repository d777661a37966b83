"""The mutants the last mutation run left alive (docs/mutation/contributions.md): the first and last year a
period may name, the index of a yearly period, the exact refusal of a long text, and an RF reference written
with a space between every character."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from contributions.domain.matching import BankCredit, creditor_references_in
from contributions.domain.periods import MAX_YEAR, MIN_YEAR, ContributionPeriod, creditor_reference
from dife_contracts.enums import Periodicity
from servicekit.rules import RuleBroken


@pytest.mark.parametrize("year", [MIN_YEAR, MAX_YEAR])
def test_the_first_and_the_last_year_allowed_are_periods_R_CON_3(year: int) -> None:
    assert ContributionPeriod.parse(str(year)) == ContributionPeriod(year, Periodicity.YEARLY, 1)
    assert ContributionPeriod.parse(f"{year}-12") == ContributionPeriod(year, Periodicity.MONTHLY, 12)


@pytest.mark.parametrize("year", [MIN_YEAR - 1, MAX_YEAR + 1])
def test_a_year_just_outside_the_range_is_refused_R_CON_3(year: int) -> None:
    with pytest.raises(RuleBroken):
        ContributionPeriod.parse(str(year))


def test_a_yearly_period_has_index_1_R_CON_3() -> None:
    assert ContributionPeriod.parse("2026").index == 1


def test_a_long_text_is_refused_quoting_its_first_20_characters_R_CON_3() -> None:
    with pytest.raises(RuleBroken) as refused:
        ContributionPeriod.parse("2026-03 and a long remark")
    assert refused.value.message == (
        "'2026-03 and a long r' is not a period: write a month 2026-03, a quarter 2026-Q1 or a year 2026 "
        f"(years {MIN_YEAR}-{MAX_YEAR})"
    )


def test_a_reference_spaced_out_character_by_character_is_still_read_R_CON_4() -> None:
    period = ContributionPeriod.parse("2026-Q1")
    reference = creditor_reference("217500016", period)
    spaced = f"{reference[:4]} {' '.join(reference[4:])}"
    assert len(spaced) > 25  # longer than any reference once its spaces are counted
    credit = BankCredit(
        id=uuid.uuid4(),
        entry_key="statement-1/1",
        amount_cents=12_000,
        booked_on=date(2026, 4, 10),
        reference=None,
        remittance=spaced,
        debtor_name=None,
    )
    assert creditor_references_in(credit) == [("217500016", period)]
