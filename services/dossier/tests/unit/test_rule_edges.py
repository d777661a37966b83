"""Edges and outcomes that mutation testing found unproven (issue 16): each command's exact refusal (rule id,
field, message), the history it stores and the event it implies, on both sides of every edge."""

from __future__ import annotations

import uuid
from datetime import date
from decimal import Decimal

import pytest
from dife_contracts.enums import CancelledBy, DossierStatus
from dife_contracts.events import (
    DossierAccepted,
    DossierCancelled,
    DossierEvaluated,
    DossierExpired,
    DossierPaid,
    DossierRefused,
    DossierSubmitted,
    DossierValidated,
    ServiceDoneDeclared,
    ServiceDoneValidated,
    TrainingCompleted,
    TrainingStarted,
)
from dossier.domain.controls import Control, ControlKind, ControlStatus
from dossier.domain.dossier import Dossier, Evaluation, Transition, realisation_percent
from dossier.domain.statuses import Action
from servicekit.rules import Conflict, InvalidTransition, RuleBroken, RulesBroken

from .conftest import AGENT, ELU, OF, SYSTEM, in_status, paris, submitted

S = DossierStatus
START = date(2027, 3, 15)  # Monday; declare_by(15 March) = Thursday 18 March


def broken_of(error: pytest.ExceptionInfo[RulesBroken]) -> list[RuleBroken]:
    return list(error.value.broken)


def last_step(dossier: Dossier) -> Transition:
    return dossier.history[-1]


# ---- submit (R-DOS-2, R-DOS-1) ----------------------------------------------------------------------


def test_submit_records_the_request_and_its_answer_deadline_R_DOS_1() -> None:
    now = paris(date(2027, 2, 1))
    dossier = submitted(now)
    assert dossier.status is S.SUBMITTED
    assert dossier.answer_by == date(2027, 2, 3)
    assert dossier.submitted_at == now
    assert dossier.history == dossier.new_history
    assert dossier.history == [
        Transition(
            at=now,
            action=Action.SUBMIT,
            from_status=None,
            to_status=S.SUBMITTED,
            actor=ELU,
            reason=None,
            event_type=DossierSubmitted.ce_type,
        )
    ]
    assert dossier.events == [
        DossierSubmitted(
            dossier_id=dossier.dossier_id,
            elu_id=dossier.elu_id,
            offer_id=dossier.offer_id,
            session_id=dossier.session_id,
            siret=dossier.siret,
            purpose=dossier.purpose,
            price_cents=56_000,
            training_start=date(2027, 3, 15),
            training_end=date(2027, 3, 15),
            submitted_at=now,
            answer_deadline=date(2027, 2, 3),
        )
    ]
    assert (dossier.offer_title, dossier.theme_code, dossier.organisme_name, dossier.department) == (
        "Finances locales",
        "FAL-03",
        "Institut des élus",
        "69",
    )
    assert dossier.hours == Decimal("7")


# ---- answers (R-DOS-1) ------------------------------------------------------------------------------


def test_validation_records_the_acceptance_deadline_and_its_event_R_DOS_1() -> None:
    dossier = submitted()
    now = paris(date(2027, 2, 3), 23, 59)  # the deadline day itself
    dossier.validate(actor=OF, now=now)
    assert dossier.accept_by == date(2027, 2, 9)
    assert last_step(dossier) == Transition(
        now, Action.VALIDATE, S.SUBMITTED, S.VALIDATED, OF, None, DossierValidated.ce_type
    )
    assert dossier.events[-1] == DossierValidated(
        dossier_id=dossier.dossier_id,
        elu_id=dossier.elu_id,
        offer_id=dossier.offer_id,
        session_id=dossier.session_id,
        siret=dossier.siret,
        purpose=dossier.purpose,
        price_cents=56_000,
        hours=Decimal("7"),
        training_start=START,
        training_end=START,
        validated_at=now,
        answer_deadline=date(2027, 2, 9),
        theme_code="FAL-03",  # funding matches envelope themes on it (R-FUN-2)
    )


def test_an_answer_the_day_after_the_deadline_names_the_deadline_R_DOS_1() -> None:
    dossier = submitted()
    with pytest.raises(RuleBroken) as error:
        dossier.refuse_by_organisme(actor=OF, now=paris(date(2027, 2, 4), 0, 0), reason="full")
    assert error.value == RuleBroken(
        "R-DOS-1", "the organisme had to answer by the end of 2027-02-03 (2 working days)"
    )
    assert dossier.status is S.SUBMITTED


def test_a_refusal_by_the_organisme_on_the_deadline_day_is_recorded_with_its_reason_R_DOS_1() -> None:
    dossier = submitted()
    now = paris(date(2027, 2, 3), 23, 59)
    dossier.refuse_by_organisme(actor=OF, now=now, reason="full")
    assert last_step(dossier) == Transition(
        now,
        Action.REFUSE_BY_ORGANISME,
        S.SUBMITTED,
        S.REFUSED_BY_ORGANISME,
        OF,
        "full",
        DossierRefused.ce_type,
    )
    assert dossier.events[-1] == DossierRefused(
        dossier_id=dossier.dossier_id,
        elu_id=dossier.elu_id,
        by=S.REFUSED_BY_ORGANISME,
        reason="full",
        refused_at=now,
    )


def test_a_refusal_by_the_elu_is_recorded_with_its_reason_R_DOS_1() -> None:
    dossier = in_status(S.VALIDATED)
    now = paris(date(2027, 2, 3))
    dossier.refuse_by_elu(actor=ELU, now=now, reason="too far")
    assert last_step(dossier) == Transition(
        now, Action.REFUSE_BY_ELU, S.VALIDATED, S.REFUSED_BY_ELU, ELU, "too far", DossierRefused.ce_type
    )
    assert dossier.events[-1] == DossierRefused(
        dossier_id=dossier.dossier_id,
        elu_id=dossier.elu_id,
        by=S.REFUSED_BY_ELU,
        reason="too far",
        refused_at=now,
    )


def test_acceptance_on_the_deadline_day_is_recorded_R_DOS_1() -> None:
    dossier = in_status(S.VALIDATED)
    now = paris(date(2027, 2, 8), 23, 59)
    dossier.accept(actor=ELU, now=now)
    assert last_step(dossier) == Transition(
        now, Action.ACCEPT, S.VALIDATED, S.ACCEPTED, ELU, None, DossierAccepted.ce_type
    )
    assert dossier.events[-1] == DossierAccepted(
        dossier_id=dossier.dossier_id, elu_id=dossier.elu_id, accepted_at=now
    )


def test_acceptance_late_and_unfunded_lists_both_reasons_R_DOS_1_R_FUN_4() -> None:
    dossier = in_status(S.VALIDATED)
    dossier.plan = None
    with pytest.raises(RulesBroken) as error:
        dossier.accept(actor=ELU, now=paris(date(2027, 2, 9), 0, 0))
    assert broken_of(error) == [
        RuleBroken("R-DOS-1", "the proposal had to be accepted by the end of 2027-02-08"),
        RuleBroken("R-FUN-4", "the funding plan is not secured yet (funding has not said plan_ready)"),
    ]


# ---- expiry (R-DOS-1) -------------------------------------------------------------------------------


def test_expiry_is_not_due_on_the_deadline_day_and_due_the_next_midnight_R_DOS_1() -> None:
    dossier = submitted()
    assert dossier.expiry_due(paris(date(2027, 2, 3), 23, 59)) is False
    assert dossier.expiry_due(paris(date(2027, 2, 4), 0, 0)) is True
    with pytest.raises(RuleBroken) as error:
        dossier.expire(actor=SYSTEM, now=paris(date(2027, 2, 3), 23, 59))
    assert error.value == RuleBroken("R-DOS-1", "the answer deadline has not passed yet")


def test_an_unanswered_request_expires_with_its_status_in_the_event_R_DOS_1() -> None:
    dossier = submitted()
    now = paris(date(2027, 2, 4), 0, 0)
    dossier.expire(actor=SYSTEM, now=now)
    assert last_step(dossier) == Transition(
        now,
        Action.EXPIRE,
        S.SUBMITTED,
        S.EXPIRED,
        SYSTEM,
        "R-DOS-1: no answer in time",
        DossierExpired.ce_type,
    )
    assert dossier.events[-1] == DossierExpired(
        dossier_id=dossier.dossier_id, elu_id=dossier.elu_id, expired_status=S.SUBMITTED, expired_at=now
    )


def test_a_proposal_not_accepted_expires_the_day_after_the_4th_working_day_R_DOS_1() -> None:
    dossier = in_status(S.VALIDATED)
    assert dossier.expiry_due(paris(date(2027, 2, 8), 23, 59)) is False
    now = paris(date(2027, 2, 9), 0, 0)
    assert dossier.expiry_due(now) is True
    dossier.expire(actor=SYSTEM, now=now)
    assert dossier.status is S.EXPIRED
    assert dossier.events[-1] == DossierExpired(
        dossier_id=dossier.dossier_id, elu_id=dossier.elu_id, expired_status=S.VALIDATED, expired_at=now
    )


def test_expiry_is_never_due_after_acceptance_or_without_a_deadline_R_DOS_1() -> None:
    accepted = in_status(S.ACCEPTED)
    assert accepted.expiry_due(paris(date(2028, 1, 1))) is False
    validated = in_status(S.VALIDATED)
    validated.accept_by = None
    assert validated.expiry_due(paris(date(2028, 1, 1))) is False


# ---- cancellations (R-DOS-5) ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "action", "by", "actor"),
    [
        ("cancel_by_organisme", Action.CANCEL_BY_ORGANISME, CancelledBy.ORGANISME, OF),
        ("cancel_by_financer", Action.CANCEL_BY_FINANCER, CancelledBy.FINANCER, AGENT),
    ],
)
def test_cancelling_by_the_organisme_or_financer_records_rights_back_R_DOS_5(
    command: str, action: Action, by: CancelledBy, actor
) -> None:
    dossier = in_status(S.ACCEPTED)
    now = paris(date(2027, 3, 14))
    getattr(dossier, command)(actor=actor, now=now, reason="why")
    assert dossier.rights_consumed is False
    assert last_step(dossier).action is action
    assert last_step(dossier).reason == "why"
    assert last_step(dossier).event_type == DossierCancelled.ce_type
    assert last_step(dossier).actor == actor
    assert dossier.events[-1] == DossierCancelled(
        dossier_id=dossier.dossier_id,
        elu_id=dossier.elu_id,
        by=by,
        reason="why",
        force_majeure=False,
        rights_consumed=False,
        cancelled_at=now,
    )


def test_a_late_cancellation_by_the_elu_with_force_majeure_keeps_the_rights_R_DOS_5() -> None:
    dossier = in_status(S.ACCEPTED)
    now = paris(date(2027, 3, 12))
    dossier.cancel_by_elu(actor=ELU, now=now, reason="ill", force_majeure=True)
    assert dossier.rights_consumed is False
    assert dossier.events[-1] == DossierCancelled(
        dossier_id=dossier.dossier_id,
        elu_id=dossier.elu_id,
        by=CancelledBy.ELU,
        reason="ill",
        force_majeure=True,
        rights_consumed=False,
        cancelled_at=now,
    )
    assert last_step(dossier) == Transition(
        now, Action.CANCEL_BY_ELU, S.ACCEPTED, S.CANCELLED_BY_ELU, ELU, "ill", DossierCancelled.ce_type
    )


def test_a_late_cancellation_by_the_elu_consumes_the_rights_on_the_dossier_R_DOS_5() -> None:
    dossier = in_status(S.ACCEPTED)
    dossier.cancel_by_elu(actor=ELU, now=paris(date(2027, 3, 4)), reason="x", force_majeure=False)
    assert dossier.rights_consumed is True


def test_a_no_show_the_day_before_the_start_is_refused_R_DOS_5() -> None:
    dossier = in_status(S.ACCEPTED)
    with pytest.raises(RuleBroken) as error:
        dossier.declare_no_show(actor=OF, now=paris(date(2027, 3, 14), 23, 59), reason="absent")
    assert error.value == RuleBroken(
        "R-DOS-5", "a no-show is declared on or after the start date", field="date"
    )
    assert dossier.status is S.ACCEPTED


def test_a_no_show_on_the_start_day_consumes_the_rights_R_DOS_5() -> None:
    dossier = in_status(S.ACCEPTED)
    now = paris(START, 0, 0)
    dossier.declare_no_show(actor=OF, now=now, reason="absent")
    assert dossier.status is S.CANCELLED_BY_ELU
    assert dossier.rights_consumed is True
    assert last_step(dossier) == Transition(
        now, Action.DECLARE_NO_SHOW, S.ACCEPTED, S.CANCELLED_BY_ELU, OF, "absent", DossierCancelled.ce_type
    )
    assert dossier.events[-1] == DossierCancelled(
        dossier_id=dossier.dossier_id,
        elu_id=dossier.elu_id,
        by=CancelledBy.ELU,
        reason="absent",
        force_majeure=False,
        rights_consumed=True,
        cancelled_at=now,
    )


# ---- entry and exit (R-DOS-3) -----------------------------------------------------------------------


def test_an_entry_declared_on_the_3rd_working_day_is_on_time_R_DOS_3() -> None:
    dossier = in_status(S.ACCEPTED)
    now = paris(date(2027, 3, 18), 23, 59)
    dossier.declare_entry(actor=OF, now=now, entry_on=START)
    assert dossier.entry_on == START
    assert dossier.entry_declared_late is False
    assert last_step(dossier) == Transition(
        now, Action.DECLARE_ENTRY, S.ACCEPTED, S.IN_TRAINING, OF, None, TrainingStarted.ce_type
    )
    assert dossier.events[-1] == TrainingStarted(
        dossier_id=dossier.dossier_id, elu_id=dossier.elu_id, started_on=START, declared_late=False
    )


def test_an_entry_declared_on_the_4th_working_day_is_flagged_late_R_DOS_3() -> None:
    dossier = in_status(S.ACCEPTED)
    now = paris(date(2027, 3, 19), 0, 0)
    dossier.declare_entry(actor=OF, now=now, entry_on=START)
    assert dossier.entry_declared_late is True
    assert last_step(dossier).reason == "declared late (R-DOS-3)"
    assert dossier.events[-1] == TrainingStarted(
        dossier_id=dossier.dossier_id, elu_id=dossier.elu_id, started_on=START, declared_late=True
    )


def test_an_entry_tomorrow_and_before_the_session_lists_both_reasons_R_DOS_3() -> None:
    dossier = in_status(S.ACCEPTED)
    with pytest.raises(RulesBroken) as error:
        dossier.declare_entry(actor=OF, now=paris(date(2027, 3, 10)), entry_on=date(2027, 3, 11))
    assert broken_of(error) == [
        RuleBroken("R-DOS-3", "an entry cannot be declared before it happens", field="date"),
        RuleBroken(
            "R-DOS-3", "the entry must be within the session (2027-03-15 to 2027-03-15)", field="date"
        ),
    ]


def test_an_entry_the_day_after_the_session_is_refused_and_today_is_accepted_R_DOS_3() -> None:
    dossier = in_status(S.ACCEPTED)
    with pytest.raises(RulesBroken) as error:
        dossier.declare_entry(actor=OF, now=paris(date(2027, 3, 16)), entry_on=date(2027, 3, 16))
    assert broken_of(error) == [
        RuleBroken("R-DOS-3", "the entry must be within the session (2027-03-15 to 2027-03-15)", field="date")
    ]
    dossier.declare_entry(actor=OF, now=paris(START, 0, 0), entry_on=START)
    assert dossier.status is S.IN_TRAINING


def test_the_exit_records_completion_then_service_done_with_its_deadline_R_DOS_3_R_DOS_4() -> None:
    dossier = in_status(S.IN_TRAINING)
    now = paris(date(2027, 3, 18), 23, 59)
    dossier.declare_exit(actor=OF, now=now, exit_on=START, hours_attended=Decimal("6.99"))
    assert (dossier.exit_on, dossier.hours_attended, dossier.realisation_percent) == (
        START,
        Decimal("6.99"),
        99,
    )
    assert dossier.exit_declared_late is False
    assert dossier.service_done_declared_on == date(2027, 3, 18)
    assert dossier.auto_validation_on == date(2027, 3, 25)
    assert dossier.history[-2:] == [
        Transition(now, Action.DECLARE_EXIT, S.IN_TRAINING, S.COMPLETED, OF, None, TrainingCompleted.ce_type),
        Transition(
            now,
            Action.DECLARE_SERVICE_DONE,
            S.COMPLETED,
            S.SERVICE_DONE_DECLARED,
            OF,
            None,
            ServiceDoneDeclared.ce_type,
        ),
    ]
    assert dossier.events[-2:] == [
        TrainingCompleted(
            dossier_id=dossier.dossier_id,
            elu_id=dossier.elu_id,
            completed_on=START,
            realisation_percent=99,
            declared_late=False,
        ),
        ServiceDoneDeclared(
            dossier_id=dossier.dossier_id,
            elu_id=dossier.elu_id,
            declared_on=date(2027, 3, 18),
            realisation_percent=99,
        ),
    ]


def test_an_exit_declared_on_the_4th_working_day_is_flagged_late_R_DOS_3() -> None:
    dossier = in_status(S.IN_TRAINING)
    now = paris(date(2027, 3, 19), 0, 0)
    dossier.declare_exit(actor=OF, now=now, exit_on=START, hours_attended=Decimal("7"))
    assert dossier.exit_declared_late is True
    assert dossier.history[-2].reason == "declared late (R-DOS-3)"
    assert dossier.events[-2].declared_late is True
    assert dossier.realisation_percent == 100


def test_an_exit_in_the_future_before_the_entry_with_too_many_hours_lists_every_reason_R_DOS_3() -> None:
    dossier = in_status(S.IN_TRAINING)
    with pytest.raises(RulesBroken) as error:
        dossier.declare_exit(
            actor=OF, now=paris(date(2027, 3, 13)), exit_on=date(2027, 3, 14), hours_attended=Decimal("7.01")
        )
    assert broken_of(error) == [
        RuleBroken("R-DOS-3", "an exit cannot be declared before it happens", field="date"),
        RuleBroken("R-DOS-3", "the exit cannot precede the entry (2027-03-15)", field="date"),
        RuleBroken(
            "R-DOS-3", "hours attended must be between 0 and the 7 hours planned", field="hours_attended"
        ),
    ]
    assert dossier.status is S.IN_TRAINING
    assert dossier.exit_on is None


def test_an_exit_tomorrow_alone_is_refused_and_today_accepted_R_DOS_3() -> None:
    dossier = in_status(S.IN_TRAINING)
    with pytest.raises(RulesBroken) as error:
        dossier.declare_exit(
            actor=OF, now=paris(date(2027, 3, 16)), exit_on=date(2027, 3, 17), hours_attended=Decimal(0)
        )
    assert broken_of(error) == [
        RuleBroken("R-DOS-3", "an exit cannot be declared before it happens", field="date")
    ]
    dossier.declare_exit(
        actor=OF, now=paris(date(2027, 3, 16), 0, 0), exit_on=date(2027, 3, 16), hours_attended=Decimal(0)
    )
    assert dossier.realisation_percent == 0


def test_realisation_percent_edges_R_DOS_3() -> None:
    assert realisation_percent(Decimal("7"), Decimal("7")) == 100
    assert realisation_percent(Decimal("0"), Decimal("7")) == 0
    assert realisation_percent(Decimal("6.99"), Decimal("7")) == 99
    assert realisation_percent(Decimal("3.5"), Decimal("7")) == 50
    assert realisation_percent(Decimal("0.01"), Decimal("0.01")) == 100
    with pytest.raises(RuleBroken) as error:
        realisation_percent(Decimal("-0.01"), Decimal("7"))
    assert error.value == RuleBroken(
        "R-DOS-3", "hours attended must be between 0 and the 7 hours planned", field="hours_attended"
    )
    with pytest.raises(ValueError, match=r"^a training plans a positive number of hours$"):
        realisation_percent(Decimal("0"), Decimal("0"))
    with pytest.raises(ValueError, match=r"^a training plans a positive number of hours$"):
        realisation_percent(Decimal("0"), Decimal("-1"))


# ---- service done and controls (R-DOS-4) ------------------------------------------------------------


def test_automatic_validation_is_not_due_on_the_5th_working_day_and_due_after_R_DOS_4() -> None:
    dossier = in_status(S.SERVICE_DONE_DECLARED)
    assert dossier.auto_validation_on == date(2027, 3, 22)
    with pytest.raises(RuleBroken) as error:
        dossier.validate_service_done_automatically(actor=SYSTEM, now=paris(date(2027, 3, 22), 23, 59))
    assert error.value == RuleBroken("R-DOS-4", "not due: the delay is running or a control is open")
    now = paris(date(2027, 3, 23), 0, 0)
    dossier.validate_service_done_automatically(actor=SYSTEM, now=now)
    assert last_step(dossier) == Transition(
        now,
        Action.VALIDATE_SERVICE_DONE,
        S.SERVICE_DONE_DECLARED,
        S.SERVICE_DONE_VALIDATED,
        SYSTEM,
        "R-DOS-4: validated automatically",
        ServiceDoneValidated.ce_type,
    )
    assert dossier.events[-1] == ServiceDoneValidated(
        dossier_id=dossier.dossier_id,
        elu_id=dossier.elu_id,
        validated_on=date(2027, 3, 23),
        realisation_percent=100,
        price_cents=56_000,
        siret=dossier.siret,
    )


def test_an_open_control_suspends_automatic_validation_R_DOS_4() -> None:
    dossier = in_status(S.SERVICE_DONE_DECLARED)
    control_id = uuid.uuid4()
    now = paris(date(2027, 3, 16))
    dossier.open_control(control_id=control_id, actor=AGENT, now=now, reason="check")
    assert dossier.open_control_id == control_id
    assert last_step(dossier) == Transition(
        now, Action.OPEN_CONTROL, S.SERVICE_DONE_DECLARED, S.SERVICE_DONE_DECLARED, AGENT, "check", None
    )
    assert dossier.running_deadlines() == {}
    assert dossier.auto_validation_due(paris(date(2027, 4, 1))) is False
    with pytest.raises(RuleBroken):
        dossier.validate_service_done_automatically(actor=SYSTEM, now=paris(date(2027, 4, 1)))
    with pytest.raises(Conflict) as error:
        dossier.open_control(control_id=uuid.uuid4(), actor=AGENT, now=now, reason="again")
    assert error.value.rule_id == "R-DOS-4"
    assert error.value.message == f"control {control_id} is already open on this dossier"


def test_deciding_without_an_open_control_is_a_conflict_R_DOS_4() -> None:
    dossier = in_status(S.SERVICE_DONE_DECLARED)
    with pytest.raises(Conflict) as error:
        dossier.decide_control(validated=True, actor=AGENT, now=paris(date(2027, 3, 17)), reason="ok")
    assert (error.value.rule_id, error.value.message) == ("R-DOS-4", "no control is open on this dossier")


def test_a_control_validated_validates_the_service_done_with_the_agents_reason_R_DOS_4() -> None:
    dossier = in_status(S.SERVICE_DONE_DECLARED)
    dossier.open_control(control_id=uuid.uuid4(), actor=AGENT, now=paris(date(2027, 3, 16)), reason="check")
    now = paris(date(2027, 3, 17))
    dossier.decide_control(validated=True, actor=AGENT, now=now, reason="fine")
    assert dossier.open_control_id is None
    assert last_step(dossier) == Transition(
        now,
        Action.VALIDATE_SERVICE_DONE,
        S.SERVICE_DONE_DECLARED,
        S.SERVICE_DONE_VALIDATED,
        AGENT,
        "fine",
        ServiceDoneValidated.ce_type,
    )
    assert dossier.events[-1] == ServiceDoneValidated(
        dossier_id=dossier.dossier_id,
        elu_id=dossier.elu_id,
        validated_on=date(2027, 3, 17),
        realisation_percent=100,
        price_cents=56_000,
        siret=dossier.siret,
    )


def test_a_control_rejected_cancels_by_the_financer_with_rights_back_R_DOS_4_R_DOS_5() -> None:
    dossier = in_status(S.SERVICE_DONE_DECLARED)
    dossier.open_control(control_id=uuid.uuid4(), actor=AGENT, now=paris(date(2027, 3, 16)), reason="check")
    now = paris(date(2027, 3, 17))
    dossier.decide_control(validated=False, actor=AGENT, now=now, reason="fraud")
    assert dossier.open_control_id is None
    assert dossier.status is S.CANCELLED_BY_FINANCER
    assert dossier.rights_consumed is False
    assert last_step(dossier) == Transition(
        now,
        Action.REJECT_SERVICE_DONE,
        S.SERVICE_DONE_DECLARED,
        S.CANCELLED_BY_FINANCER,
        AGENT,
        "fraud",
        DossierCancelled.ce_type,
    )
    assert dossier.events[-1] == DossierCancelled(
        dossier_id=dossier.dossier_id,
        elu_id=dossier.elu_id,
        by=CancelledBy.FINANCER,
        reason="fraud",
        force_majeure=False,
        rights_consumed=False,
        cancelled_at=now,
    )


def test_a_control_is_decided_once_R_DOS_4() -> None:
    opened = paris(date(2027, 3, 16))
    control = Control(uuid.uuid4(), uuid.uuid4(), ControlKind.FRAUD, "check", "agent-1", opened)
    assert control.status is ControlStatus.OPEN
    assert (control.decided_by, control.decided_at, control.decision_reason) == (None, None, None)
    with pytest.raises(ValueError, match=r"^a decision is validated or rejected$"):
        control.decide(outcome=ControlStatus.OPEN, by="agent-2", at=opened, reason="x")
    assert control.status is ControlStatus.OPEN
    at = paris(date(2027, 3, 17))
    control.decide(outcome=ControlStatus.REJECTED, by="agent-2", at=at, reason="fraud")
    assert (control.status, control.decided_by, control.decided_at, control.decision_reason) == (
        ControlStatus.REJECTED,
        "agent-2",
        at,
        "fraud",
    )
    with pytest.raises(Conflict) as error:
        control.decide(outcome=ControlStatus.VALIDATED, by="agent-3", at=at, reason="x")
    assert (error.value.rule_id, error.value.message) == (
        "R-DOS-4",
        "the control was already decided (rejected)",
    )
    assert control.decided_by == "agent-2"


# ---- payment and evaluation (R-DOS-6) ---------------------------------------------------------------


def test_payments_add_up_and_are_recorded() -> None:
    dossier = in_status(S.SERVICE_DONE_VALIDATED)
    dossier.amount_paid_cents = 500  # as loaded after an earlier part payment
    now = paris(date(2027, 4, 2))
    dossier.mark_paid(actor=SYSTEM, now=now, amount_cents=1_000, paid_on=date(2027, 4, 2))
    assert dossier.amount_paid_cents == 1_500
    assert last_step(dossier) == Transition(
        now, Action.MARK_PAID, S.SERVICE_DONE_VALIDATED, S.PAID, SYSTEM, None, DossierPaid.ce_type
    )
    assert dossier.events[-1] == DossierPaid(
        dossier_id=dossier.dossier_id, elu_id=dossier.elu_id, paid_on=date(2027, 4, 2), amount_cents=1_000
    )


@pytest.mark.parametrize("rating", [1, 5])
def test_a_rating_at_either_end_is_recorded_R_DOS_6(rating: int) -> None:
    dossier = in_status(S.PAID)
    now = paris(date(2027, 4, 3))
    dossier.evaluate(actor=ELU, now=now, rating=rating, comment="bien")
    assert dossier.evaluation == Evaluation(rating=rating, comment="bien", at=now)
    assert dossier.status is S.PAID
    assert last_step(dossier) == Transition(
        now, Action.EVALUATE, S.PAID, S.PAID, ELU, None, DossierEvaluated.ce_type
    )
    assert dossier.events[-1] == DossierEvaluated(
        dossier_id=dossier.dossier_id,
        elu_id=dossier.elu_id,
        offer_id=dossier.offer_id,
        siret=dossier.siret,
        rating=rating,
        comment="bien",
    )


@pytest.mark.parametrize("rating", [0, 6])
def test_a_rating_just_outside_1_to_5_is_refused_R_DOS_6(rating: int) -> None:
    dossier = in_status(S.PAID)
    with pytest.raises(RuleBroken) as error:
        dossier.evaluate(actor=ELU, now=paris(date(2027, 4, 3)), rating=rating, comment="x")
    assert error.value == RuleBroken("R-DOS-6", "the rating is from 1 to 5", field="rating")
    assert dossier.evaluation is None


def test_a_second_evaluation_is_a_conflict_R_DOS_6() -> None:
    dossier = in_status(S.PAID)
    dossier.evaluate(actor=ELU, now=paris(date(2027, 4, 3)), rating=4, comment="x")
    with pytest.raises(Conflict) as error:
        dossier.evaluate(actor=ELU, now=paris(date(2027, 4, 4)), rating=2, comment="y")
    assert (error.value.rule_id, error.value.message) == (
        "R-DOS-6",
        "the training was already evaluated (once only)",
    )
    assert dossier.evaluation is not None and dossier.evaluation.rating == 4


# ---- running deadlines ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (S.SUBMITTED, {"answer_by": date(2027, 2, 3)}),
        (S.VALIDATED, {"accept_by": date(2027, 2, 8)}),
        (S.ACCEPTED, {"declare_entry_by": date(2027, 3, 18)}),
        (S.IN_TRAINING, {"declare_exit_by": date(2027, 3, 18)}),
        (S.SERVICE_DONE_DECLARED, {"auto_validation_on": date(2027, 3, 22)}),
        (S.SERVICE_DONE_VALIDATED, {}),
        (S.PAID, {}),
        (S.EXPIRED, {}),
    ],
)
def test_the_running_deadlines_of_each_status_R_DOS_1_R_DOS_3_R_DOS_4(
    status: DossierStatus, expected
) -> None:
    assert in_status(status).running_deadlines() == expected


def test_no_running_deadline_without_its_date() -> None:
    validated = in_status(S.VALIDATED)
    validated.accept_by = None
    assert validated.running_deadlines() == {}
    declared = in_status(S.SERVICE_DONE_DECLARED)
    declared.auto_validation_on = None
    assert declared.running_deadlines() == {}
    assert declared.auto_validation_due(paris(date(2028, 1, 1))) is False


def test_running_deadlines_of_an_exit_use_the_planned_end_R_DOS_3() -> None:
    dossier = submitted(start=START, end=date(2027, 3, 19))
    dossier.status = S.IN_TRAINING
    assert dossier.running_deadlines() == {"declare_exit_by": date(2027, 3, 24)}
    dossier.status = S.ACCEPTED
    assert dossier.running_deadlines() == {"declare_entry_by": date(2027, 3, 18)}


def test_a_refused_transition_names_the_wanted_action() -> None:
    dossier = in_status(S.PAID)
    with pytest.raises(InvalidTransition) as error:
        dossier.validate(actor=OF, now=paris(date(2027, 4, 3)))
    assert error.value.wanted == Action.VALIDATE.value
    assert error.value.current == S.PAID.value
