"""R-PAY-1 (amount due), R-PAY-2 (allocation over the plan, DIFE first), R-PAY-3, R-DOS-5."""

from datetime import date

import pytest
from dife_contracts.enums import FundingSource
from payout.domain.allocation import PlanLine, allocate, late_cancellation
from payout.domain.amounts import amount_due, is_overdue, payment_deadline
from servicekit.rules import RuleBroken

DIFE, COLL, CPF, CARD = (
    FundingSource.DIFE,
    FundingSource.COLLECTIVITE,
    FundingSource.CPF,
    FundingSource.ELU_CARD,
)


def test_amount_due_at_100_percent_is_the_price_R_PAY_1() -> None:
    assert amount_due(100_100, 100) == 100_100


def test_amount_due_at_70_percent_R_PAY_1() -> None:
    assert amount_due(80_000, 70) == 56_000


def test_amount_due_at_0_percent_is_nothing_R_PAY_1() -> None:
    assert amount_due(80_000, 0) == 0


def test_33_percent_of_1001_euros_rounds_the_odd_cent_half_up_R_PAY_1() -> None:
    # 100,100 × 33 / 100 = 33,033 exactly; 100,101 × 33 / 100 = 33,033.33 → 33,033; 50 % of 1 cent = 0.5 → 1
    assert amount_due(100_100, 33) == 33_033
    assert amount_due(100_101, 33) == 33_033
    assert amount_due(1, 50) == 1
    assert amount_due(100_150, 33) == 33_050  # 33,049.5 → half up to 33,050, once


def test_a_percent_outside_0_to_100_is_refused_R_PAY_1() -> None:
    with pytest.raises(RuleBroken) as refused:
        amount_due(10_000, 101)
    assert refused.value.rule_id == "R-PAY-1"


def test_deadline_is_30_calendar_days_after_validation_R_PAY_3() -> None:
    assert payment_deadline(date(2027, 1, 31)) == date(2027, 3, 2)


def test_a_payment_is_overdue_the_day_after_its_deadline_not_on_it_R_PAY_3() -> None:
    deadline = date(2027, 3, 2)
    assert not is_overdue(deadline, date(2027, 3, 2), settled=False)
    assert is_overdue(deadline, date(2027, 3, 3), settled=False)
    assert not is_overdue(deadline, date(2027, 3, 3), settled=True)


def test_allocation_dife_only_captures_the_amount_due_and_releases_the_rest_R_PAY_2() -> None:
    allocation = allocate([PlanLine(DIFE, 80_000)], amount_due(80_000, 70))
    assert allocation.dife_capture_cents == 56_000
    assert allocation.shares[0].unused_cents == 24_000
    assert allocation.card_refund_cents == 0


def test_allocation_dife_plus_top_up_takes_dife_first_R_PAY_2() -> None:
    lines = [PlanLine(COLL, 30_000, "DELIB-2027-01"), PlanLine(DIFE, 50_000)]  # DIFE first whatever its place
    at_100 = allocate(lines, 80_000)
    assert (at_100.dife_capture_cents, at_100.collectivite_receivable_cents) == (50_000, 30_000)
    at_70 = allocate(lines, 56_000)
    assert (at_70.dife_capture_cents, at_70.collectivite_receivable_cents) == (50_000, 6_000)
    at_50 = allocate(lines, 40_000)
    assert (at_50.dife_capture_cents, at_50.collectivite_receivable_cents) == (40_000, 0)


def test_allocation_dife_cpf_and_card_refunds_the_unused_card_share_R_PAY_2() -> None:
    lines = [PlanLine(DIFE, 50_000), PlanLine(CPF, 20_000, "CPF-123"), PlanLine(CARD, 10_000, "psp-9")]
    allocation = allocate(lines, amount_due(80_000, 80))  # 64,000
    assert allocation.dife_capture_cents == 50_000
    assert [(s.reference, s.drawn_cents) for s in allocation.external_commitments] == [("CPF-123", 14_000)]
    assert allocation.card_refund_cents == 10_000
    assert sum(share.drawn_cents for share in allocation.shares) == 64_000


def test_allocation_uses_the_card_when_the_others_are_exhausted_R_PAY_2() -> None:
    lines = [PlanLine(DIFE, 50_000), PlanLine(CPF, 20_000, "CPF-123"), PlanLine(CARD, 10_000)]
    allocation = allocate(lines, 75_000)
    assert allocation.card_refund_cents == 5_000


def test_an_amount_due_above_the_plan_is_refused_R_PAY_2() -> None:
    with pytest.raises(RuleBroken) as refused:
        allocate([PlanLine(DIFE, 50_000)], 50_001)
    assert refused.value.rule_id == "R-PAY-2"
    assert allocate([PlanLine(DIFE, 50_000)], 50_000).dife_capture_cents == 50_000


def test_late_cancellation_captures_the_whole_dife_line_and_refunds_the_card_R_DOS_5() -> None:
    allocation = late_cancellation([PlanLine(DIFE, 50_000), PlanLine(CARD, 10_000)])
    assert allocation.amount_due_cents == 0
    assert allocation.dife_capture_cents == 50_000
    assert allocation.card_refund_cents == 10_000
