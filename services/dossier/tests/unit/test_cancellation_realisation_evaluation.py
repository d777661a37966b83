"""R-DOS-5 (cancellation and rights), R-DOS-3 (taux de réalisation), R-DOS-6 (evaluation)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from dife_contracts.enums import DossierStatus
from dossier.domain.dossier import realisation_percent, rights_consumed
from servicekit.clock import FRENCH_WORKING_DAYS
from servicekit.rules import Conflict, InvalidTransition, RuleBroken

from .conftest import ELU, OF, SYSTEM, in_status, paris

START = date(2027, 3, 15)  # Monday


def test_cancelling_exactly_8_working_days_before_the_start_gives_rights_back_R_DOS_5() -> None:
    today = date(2027, 3, 3)  # Wed: 4,5,8,9,10,11,12,15 March = 8 working days up to the start
    assert FRENCH_WORKING_DAYS.working_days_between(today, START) == 8
    assert rights_consumed(today=today, training_start=START, force_majeure=False) is False


def test_cancelling_exactly_7_working_days_before_the_start_consumes_rights_R_DOS_5() -> None:
    today = date(2027, 3, 4)
    assert FRENCH_WORKING_DAYS.working_days_between(today, START) == 7
    assert rights_consumed(today=today, training_start=START, force_majeure=False) is True


def test_force_majeure_gives_rights_back_even_late_R_DOS_5() -> None:
    assert rights_consumed(today=date(2027, 3, 12), training_start=START, force_majeure=True) is False


def test_an_accepted_dossier_cancelled_late_by_the_elu_consumes_rights_R_DOS_5() -> None:
    dossier = in_status(DossierStatus.ACCEPTED)
    dossier.cancel_by_elu(actor=ELU, now=paris(date(2027, 3, 4)), reason="agenda", force_majeure=False)
    assert dossier.status is DossierStatus.CANCELLED_BY_ELU
    assert dossier.events[-1].rights_consumed is True


def test_an_accepted_dossier_cancelled_early_by_the_elu_gives_rights_back_R_DOS_5() -> None:
    dossier = in_status(DossierStatus.ACCEPTED)
    dossier.cancel_by_elu(actor=ELU, now=paris(date(2027, 3, 3)), reason="agenda", force_majeure=False)
    assert dossier.events[-1].rights_consumed is False


def test_a_request_withdrawn_by_the_elu_before_acceptance_never_consumes_rights_R_DOS_5() -> None:
    dossier = in_status(DossierStatus.VALIDATED)
    dossier.cancel_by_elu(actor=ELU, now=paris(date(2027, 3, 12)), reason="x", force_majeure=False)
    assert dossier.events[-1].rights_consumed is False


def test_cancelling_by_the_organisme_or_the_financer_gives_rights_back_R_DOS_5() -> None:
    by_of = in_status(DossierStatus.ACCEPTED)
    by_of.cancel_by_organisme(actor=OF, now=paris(date(2027, 3, 14)), reason="trainer ill")
    by_financer = in_status(DossierStatus.ACCEPTED)
    by_financer.cancel_by_financer(actor=SYSTEM, now=paris(date(2027, 3, 14)), reason="plan failed")
    assert by_of.status is DossierStatus.CANCELLED_BY_ORGANISME
    assert by_financer.status is DossierStatus.CANCELLED_BY_FINANCER
    assert by_of.events[-1].rights_consumed is False
    assert by_financer.events[-1].rights_consumed is False


def test_a_no_show_consumes_rights_and_only_from_the_start_R_DOS_5() -> None:
    early = in_status(DossierStatus.ACCEPTED)
    with pytest.raises(RuleBroken):
        early.declare_no_show(actor=OF, now=paris(date(2027, 3, 12)), reason="absent")
    dossier = in_status(DossierStatus.ACCEPTED)
    dossier.declare_no_show(actor=OF, now=paris(START, 17), reason="absent")
    assert dossier.status is DossierStatus.CANCELLED_BY_ELU
    assert dossier.events[-1].rights_consumed is True


@pytest.mark.parametrize(
    ("attended", "planned", "percent"),
    [
        ("7", "7", 100),
        ("4.9", "7", 70),
        ("0", "7", 0),
        ("6.99", "7", 99),
        ("10", "14", 71),
        ("7.5", "7.5", 100),
    ],
)
def test_realisation_percent_is_hours_attended_over_planned_rounded_down_R_DOS_3(
    attended: str, planned: str, percent: int
) -> None:
    assert realisation_percent(Decimal(attended), Decimal(planned)) == percent


def test_more_hours_attended_than_planned_is_refused_R_DOS_3() -> None:
    with pytest.raises(RuleBroken) as refused:
        realisation_percent(Decimal("7.01"), Decimal("7"))
    assert refused.value.rule_id == "R-DOS-3"


@pytest.mark.parametrize(("attended", "percent"), [("7", 100), ("4.9", 70), ("0", 0)])
def test_the_exit_derives_the_percent_and_declares_service_done_R_DOS_3(attended: str, percent: int) -> None:
    dossier = in_status(DossierStatus.IN_TRAINING)
    dossier.declare_exit(actor=OF, now=paris(START, 19), exit_on=START, hours_attended=Decimal(attended))
    assert dossier.status is DossierStatus.SERVICE_DONE_DECLARED
    assert dossier.realisation_percent == percent
    assert [e.ce_type for e in dossier.events[-2:]] == [
        "dife.dossier.training_completed.v1",
        "dife.dossier.service_done_declared.v1",
    ]


def test_evaluation_is_refused_before_the_training_is_completed_R_DOS_6() -> None:
    dossier = in_status(DossierStatus.IN_TRAINING)
    with pytest.raises(InvalidTransition):
        dossier.evaluate(actor=ELU, now=paris(START, 20), rating=5, comment="")


@pytest.mark.parametrize("rating", [1, 5])
def test_evaluation_after_completion_with_a_rating_1_to_5_is_accepted_R_DOS_6(rating: int) -> None:
    dossier = in_status(DossierStatus.SERVICE_DONE_DECLARED)
    dossier.evaluate(actor=ELU, now=paris(START, 20), rating=rating, comment="clair")
    assert dossier.evaluation is not None and dossier.evaluation.rating == rating
    assert dossier.status is DossierStatus.SERVICE_DONE_DECLARED
    assert dossier.events[-1].ce_type == "dife.dossier.dossier_evaluated.v1"


@pytest.mark.parametrize("rating", [0, 6])
def test_a_rating_outside_1_to_5_is_refused_R_DOS_6(rating: int) -> None:
    dossier = in_status(DossierStatus.PAID)
    with pytest.raises(RuleBroken):
        dossier.evaluate(actor=ELU, now=paris(START, 20), rating=rating, comment="")


def test_a_training_is_evaluated_once_only_R_DOS_6() -> None:
    dossier = in_status(DossierStatus.PAID)
    dossier.evaluate(actor=ELU, now=paris(date(2027, 4, 3)), rating=4, comment="")
    with pytest.raises(Conflict):
        dossier.evaluate(actor=ELU, now=paris(date(2027, 4, 4)), rating=2, comment="changed my mind")
