"""R-REG-1 / R-REG-2: the limits that refuse a damaged snapshot, on both sides of each edge."""

from __future__ import annotations

import pytest
from rights_ledger.domain.snapshot import SnapshotLimits, check_ending_plausible, check_readable_enough
from servicekit.rules import RuleBroken

LIMITS = SnapshotLimits(max_rejected_share=0.02, max_ended_share=0.10)


def test_2_rejected_lines_of_100_pass_3_are_refused_unless_forced_R_REG_1() -> None:
    check_readable_enough(100, 2, LIMITS, force=False)
    with pytest.raises(RuleBroken) as refused:
        check_readable_enough(100, 3, LIMITS, force=False)
    assert refused.value.rule_id == "R-REG-1"
    check_readable_enough(100, 3, LIMITS, force=True)


def test_ending_10_of_100_open_mandates_passes_11_is_refused_unless_forced_R_REG_2() -> None:
    check_ending_plausible(100, 10, "cm", LIMITS, force=False)
    with pytest.raises(RuleBroken) as refused:
        check_ending_plausible(100, 11, "cm", LIMITS, force=False)
    assert refused.value.rule_id == "R-REG-2"
    check_ending_plausible(100, 11, "cm", LIMITS, force=True)


def test_a_first_import_ends_nothing_and_is_never_refused_for_it_R_REG_2() -> None:
    check_ending_plausible(0, 0, "cm", LIMITS, force=False)
