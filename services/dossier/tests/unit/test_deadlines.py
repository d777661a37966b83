"""R-DOS-1, R-DOS-3, R-DOS-4: deadlines in French working days, both sides of each edge."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from dife_contracts.enums import DossierStatus
from dossier.domain import deadlines
from dossier.domain.dossier import Dossier
from servicekit.clock import FRENCH_WORKING_DAYS
from servicekit.rules import RuleBroken, RulesBroken

from .conftest import ELU, OF, SYSTEM, in_status, paris, submitted

# (day of submission, the 2nd working day after it) across each public holiday and a weekend.
ACROSS_HOLIDAYS = [
    pytest.param(date(2027, 3, 26), date(2027, 3, 31), id="easter-monday-2027-03-29"),
    pytest.param(date(2026, 4, 30), date(2026, 5, 5), id="1-may-2026"),
    pytest.param(date(2027, 5, 5), date(2027, 5, 10), id="ascension-2027-05-06"),
    pytest.param(date(2027, 7, 13), date(2027, 7, 16), id="14-july-2027"),
    pytest.param(date(2028, 8, 14), date(2028, 8, 17), id="15-august-2028"),
    pytest.param(date(2027, 10, 29), date(2027, 11, 3), id="1-november-2027"),
    pytest.param(date(2027, 11, 10), date(2027, 11, 15), id="11-november-2027"),
    pytest.param(date(2026, 12, 24), date(2026, 12, 29), id="25-december-2026"),
    pytest.param(date(2026, 11, 27), date(2026, 12, 1), id="weekend"),
]


@pytest.mark.parametrize(("submitted_on", "expected"), ACROSS_HOLIDAYS)
def test_answer_deadline_skips_weekends_and_public_holidays_R_DOS_1(
    submitted_on: date, expected: date
) -> None:
    assert deadlines.answer_by(submitted_on) == expected
    holidays_crossed = [
        submitted_on + timedelta(days=n)
        for n in range(1, (expected - submitted_on).days)
        if FRENCH_WORKING_DAYS.is_holiday(submitted_on + timedelta(days=n))
    ]
    weekend = submitted_on == date(2026, 11, 27)
    assert weekend or holidays_crossed, "each case crosses the holiday it is named after"


def test_accept_deadline_is_the_4th_working_day_after_validation_across_easter_R_DOS_1() -> None:
    # Thursday 25 March 2027: Fri 26 (1), Easter Monday off, Tue 30 (2), Wed 31 (3), Thu 1 April (4).
    assert deadlines.accept_by(date(2027, 3, 25)) == date(2027, 4, 1)


def test_answer_on_the_2nd_working_day_is_accepted_R_DOS_1() -> None:
    dossier = submitted(paris(date(2026, 11, 27), 10))  # Friday: answer by Tuesday 1 December
    dossier.validate(actor=OF, now=paris(date(2026, 12, 1), 23, 59))
    assert dossier.status is DossierStatus.VALIDATED


def test_answer_on_the_3rd_working_day_is_refused_R_DOS_1() -> None:
    dossier = submitted(paris(date(2026, 11, 27), 10))
    with pytest.raises(RuleBroken) as refused:
        dossier.validate(actor=OF, now=paris(date(2026, 12, 2), 0, 0))
    assert refused.value.rule_id == "R-DOS-1"
    assert dossier.status is DossierStatus.SUBMITTED


def test_a_late_refusal_by_the_organisme_is_refused_too_R_DOS_1() -> None:
    dossier = submitted(paris(date(2026, 11, 27), 10))
    with pytest.raises(RuleBroken):
        dossier.refuse_by_organisme(actor=OF, now=paris(date(2026, 12, 2), 9), reason="no")


def test_request_expires_only_once_the_2nd_working_day_is_over_R_DOS_1() -> None:
    dossier = submitted(paris(date(2026, 11, 27), 10))
    assert not dossier.expiry_due(paris(date(2026, 12, 1), 23, 59))
    assert dossier.expiry_due(paris(date(2026, 12, 2), 0, 0))
    dossier.expire(actor=SYSTEM, now=paris(date(2026, 12, 2), 0, 0))
    assert dossier.status is DossierStatus.EXPIRED
    assert dossier.events[-1].ce_type == "dife.dossier.dossier_expired.v1"


def test_expiring_before_the_deadline_is_refused_R_DOS_1() -> None:
    dossier = submitted(paris(date(2026, 11, 27), 10))
    with pytest.raises(RuleBroken):
        dossier.expire(actor=SYSTEM, now=paris(date(2026, 12, 1), 12))


def _validated_on(day: date) -> Dossier:
    dossier = submitted(paris(day, 9), start=date(2027, 6, 1))
    dossier.validate(actor=OF, now=paris(day, 10))
    dossier.record_plan(in_status(DossierStatus.VALIDATED).plan)
    return dossier


def test_acceptance_on_the_4th_working_day_is_accepted_R_DOS_1() -> None:
    dossier = _validated_on(date(2027, 3, 25))  # accept by Thursday 1 April (Easter Monday off)
    dossier.accept(actor=ELU, now=paris(date(2027, 4, 1), 23, 59))
    assert dossier.status is DossierStatus.ACCEPTED


def test_acceptance_on_the_5th_working_day_is_refused_and_the_proposal_expires_R_DOS_1() -> None:
    dossier = _validated_on(date(2027, 3, 25))
    with pytest.raises(RulesBroken) as refused:
        dossier.accept(actor=ELU, now=paris(date(2027, 4, 2), 8))
    assert refused.value.rule_ids == ["R-DOS-1"]
    assert dossier.expiry_due(paris(date(2027, 4, 2), 0, 0))
    assert not dossier.expiry_due(paris(date(2027, 4, 1), 23, 59))


def test_acceptance_needs_a_ready_funding_plan_R_FUN_4() -> None:
    dossier = submitted(paris(date(2027, 2, 1)))
    dossier.validate(actor=OF, now=paris(date(2027, 2, 2)))
    with pytest.raises(RulesBroken) as refused:
        dossier.accept(actor=ELU, now=paris(date(2027, 2, 3)))
    assert refused.value.rule_ids == ["R-FUN-4"]


def _accepted() -> Dossier:
    return in_status(DossierStatus.ACCEPTED)  # training on Monday 15 March 2027


def test_entry_declared_on_the_3rd_working_day_is_not_late_R_DOS_3() -> None:
    dossier = _accepted()
    dossier.declare_entry(actor=OF, now=paris(date(2027, 3, 18), 23, 59), entry_on=date(2027, 3, 15))
    assert dossier.status is DossierStatus.IN_TRAINING
    assert dossier.entry_declared_late is False


def test_entry_declared_on_the_4th_working_day_is_accepted_but_flagged_late_R_DOS_3() -> None:
    dossier = _accepted()
    dossier.declare_entry(actor=OF, now=paris(date(2027, 3, 19), 0, 1), entry_on=date(2027, 3, 15))
    assert dossier.status is DossierStatus.IN_TRAINING
    assert dossier.entry_declared_late is True
    assert dossier.events[-1].declared_late is True


def test_exit_declared_after_3_working_days_is_flagged_late_R_DOS_3() -> None:
    dossier = in_status(DossierStatus.IN_TRAINING)
    # Exit Monday 15 March: declare by Thursday 18; on Friday 19 it is late.
    dossier.declare_exit(
        actor=OF, now=paris(date(2027, 3, 19), 9), exit_on=date(2027, 3, 15), hours_attended=Decimal(7)
    )
    assert dossier.exit_declared_late is True
    on_time = in_status(DossierStatus.IN_TRAINING)
    on_time.declare_exit(
        actor=OF, now=paris(date(2027, 3, 18), 9), exit_on=date(2027, 3, 15), hours_attended=Decimal(7)
    )
    assert on_time.exit_declared_late is False


def test_an_entry_in_the_future_or_outside_the_session_is_refused_R_DOS_3() -> None:
    dossier = _accepted()
    with pytest.raises(RulesBroken) as refused:
        dossier.declare_entry(actor=OF, now=paris(date(2027, 3, 10)), entry_on=date(2027, 3, 16))
    assert set(refused.value.rule_ids) == {"R-DOS-3"}
    assert len(refused.value.broken) == 2


def test_service_done_is_validated_automatically_at_the_end_of_the_5th_working_day_R_DOS_4() -> None:
    dossier = in_status(DossierStatus.SERVICE_DONE_DECLARED)  # declared Monday 15 March 2027
    assert dossier.auto_validation_on == date(2027, 3, 22)
    assert not dossier.auto_validation_due(paris(date(2027, 3, 22), 23, 59))
    with pytest.raises(RuleBroken):
        dossier.validate_service_done_automatically(actor=SYSTEM, now=paris(date(2027, 3, 22), 23, 59))
    dossier.validate_service_done_automatically(actor=SYSTEM, now=paris(date(2027, 3, 23), 0, 0))
    assert dossier.status is DossierStatus.SERVICE_DONE_VALIDATED


def test_an_open_control_suspends_the_automatic_validation_R_DOS_4() -> None:
    import uuid

    from .conftest import AGENT

    dossier = in_status(DossierStatus.SERVICE_DONE_DECLARED)
    dossier.open_control(control_id=uuid.uuid4(), actor=AGENT, now=paris(date(2027, 3, 16)), reason="check")
    assert not dossier.auto_validation_due(paris(date(2027, 4, 30)))
    assert "auto_validation_on" not in dossier.running_deadlines()
    dossier.decide_control(validated=True, actor=AGENT, now=paris(date(2027, 4, 30)), reason="ok")
    assert dossier.status is DossierStatus.SERVICE_DONE_VALIDATED


def test_a_rejected_control_cancels_by_the_financer_and_gives_rights_back_R_DOS_4() -> None:
    import uuid

    from .conftest import AGENT

    dossier = in_status(DossierStatus.SERVICE_DONE_DECLARED)
    dossier.open_control(control_id=uuid.uuid4(), actor=AGENT, now=paris(date(2027, 3, 16)), reason="fraud?")
    dossier.decide_control(validated=False, actor=AGENT, now=paris(date(2027, 3, 30)), reason="no attendance")
    assert dossier.status is DossierStatus.CANCELLED_BY_FINANCER
    cancelled = dossier.events[-1]
    assert cancelled.rights_consumed is False
    assert cancelled.by == "financer"
