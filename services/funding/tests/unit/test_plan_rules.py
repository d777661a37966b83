"""R-FUN-1…5 on the plan aggregate, each rule on both sides of its edge."""

from __future__ import annotations

from datetime import date
from uuid import uuid4

import pytest
from dife_contracts.enums import FundingSource, HoldRejectionReason, TrainingPurpose
from dife_contracts.events import (
    CardPaymentConfirmed,
    CardRefundOrdered,
    CofundingDecided,
    CofundingRequested,
    DifeHoldRequested,
    DifeReleaseRequested,
    PlanFailed,
    PlanProposed,
    PlanReady,
)
from funding.domain.plan import (
    DossierFacts,
    ExternalCommitment,
    FundingPlan,
    LineStatus,
    PlanStatus,
    TopUpCapacity,
    compute_lines,
)
from funding.domain.policy import CardOnConsumedExit, CofundingOnConsumedExit, ConsumedExitPolicy
from servicekit.rules import Conflict, InvalidTransition, RuleBroken

MANDATE, REINSERTION = TrainingPurpose.MANDATE, TrainingPurpose.REINSERTION
DIFE, COLL, CARD, CPF = (
    FundingSource.DIFE,
    FundingSource.COLLECTIVITE,
    FundingSource.ELU_CARD,
    FundingSource.CPF,
)


def facts(price: int = 100_000, purpose: TrainingPurpose = MANDATE) -> DossierFacts:
    return DossierFacts(
        dossier_id=uuid4(),
        elu_id=uuid4(),
        siret="12345678900011",
        purpose=purpose,
        price_cents=price,
        training_start=date(2027, 3, 15),
        training_end=date(2027, 3, 16),
        acceptance_deadline=date(2027, 2, 5),
    )


def topup(capacity: int, automatic: bool = True) -> TopUpCapacity:
    return TopUpCapacity(uuid4(), "213100017", "DEL-2026-1", capacity, automatic)


def shape(plan: FundingPlan) -> list[tuple[FundingSource, int, LineStatus]]:
    return [(line.source, line.amount_cents, line.status) for line in plan.lines]


def kinds(plan: FundingPlan) -> list[type]:
    return [type(event) for event in plan.events]


# ---- R-FUN-1: DIFE first, up to the available balance


def test_dife_covers_the_whole_price_when_available_equals_the_price_R_FUN_1() -> None:
    lines = compute_lines(price_cents=80_000, purpose=MANDATE, dife_available_cents=80_000)
    assert [(line.source, line.amount_cents) for line in lines] == [(DIFE, 80_000)]


def test_dife_stops_one_cent_short_when_available_is_one_cent_below_the_price_R_FUN_1() -> None:
    lines = compute_lines(price_cents=80_000, purpose=MANDATE, dife_available_cents=79_999)
    assert [(line.source, line.amount_cents) for line in lines] == [(DIFE, 79_999), (CARD, 1)]


def test_no_dife_line_when_nothing_is_available_R_FUN_1() -> None:
    lines = compute_lines(price_cents=80_000, purpose=MANDATE, dife_available_cents=0)
    assert [(line.source, line.amount_cents) for line in lines] == [(CARD, 80_000)]


def test_proposing_requests_a_hold_of_exactly_the_dife_line_with_purpose_and_dates_R_FUN_1() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=60_000)
    [hold] = [e for e in plan.events if isinstance(e, DifeHoldRequested)]
    assert (hold.amount_cents, hold.purpose, hold.training_start) == (60_000, MANDATE, date(2027, 3, 15))
    assert plan.status is PlanStatus.PROPOSED and kinds(plan)[0] is PlanProposed


def test_hold_placed_makes_a_dife_only_plan_ready_R_FUN_1() -> None:
    plan = FundingPlan.propose(facts(50_000), dife_available_cents=80_000)
    plan.on_hold_placed(50_000)
    assert plan.status is PlanStatus.READY and isinstance(plan.events[-1], PlanReady)


def test_hold_placed_for_another_amount_is_refused_R_FUN_1() -> None:
    plan = FundingPlan.propose(facts(50_000), dife_available_cents=80_000)
    with pytest.raises(RuleBroken) as error:
        plan.on_hold_placed(49_999)
    assert error.value.rule_id == "R-FUN-1"


def test_insufficient_rights_recomputes_with_the_reported_amount_R_FUN_1() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=80_000)
    plan.on_hold_rejected(HoldRejectionReason.INSUFFICIENT_RIGHTS, 30_000)
    assert shape(plan) == [(DIFE, 30_000, LineStatus.PENDING), (CARD, 70_000, LineStatus.PENDING)]
    last_hold = [e for e in plan.events if isinstance(e, DifeHoldRequested)][-1]
    assert last_hold.amount_cents == 30_000 and plan.hold_attempts == 2


def test_insufficient_rights_with_nothing_left_drops_the_dife_line_R_FUN_1() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=80_000)
    plan.on_hold_rejected(HoldRejectionReason.INSUFFICIENT_RIGHTS, 0)
    assert shape(plan) == [(CARD, 100_000, LineStatus.PENDING)]
    assert plan.hold_attempts == 1


def test_the_third_rejection_fails_the_plan_but_the_second_recomputes_R_FUN_1() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=80_000)
    plan.on_hold_rejected(HoldRejectionReason.INSUFFICIENT_RIGHTS, 70_000)
    plan.on_hold_rejected(HoldRejectionReason.INSUFFICIENT_RIGHTS, 60_000)
    assert plan.status is PlanStatus.PROPOSED and plan.hold_attempts == 3
    plan.on_hold_rejected(HoldRejectionReason.INSUFFICIENT_RIGHTS, 50_000)
    assert plan.status is PlanStatus.FAILED and isinstance(plan.events[-1], PlanFailed)
    assert not any(isinstance(e, DifeReleaseRequested) for e in plan.events)


@pytest.mark.parametrize("reason", [HoldRejectionReason.NOT_ELIGIBLE, HoldRejectionReason.ACCOUNT_INACTIVE])
def test_not_eligible_or_inactive_fails_the_plan_with_a_readable_reason_R_FUN_1(
    reason: HoldRejectionReason,
) -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=80_000)
    plan.on_hold_rejected(reason, 80_000)
    failed = plan.events[-1]
    assert isinstance(failed, PlanFailed) and reason.value.replace("_", " ") in failed.reason


# ---- R-FUN-2: collectivité top-up, mandate only


def test_topup_completes_a_mandate_training_up_to_its_capacity_R_FUN_2() -> None:
    lines = compute_lines(
        price_cents=100_000, purpose=MANDATE, dife_available_cents=60_000, topups=[topup(30_000)]
    )
    assert [(line.source, line.amount_cents) for line in lines] == [
        (DIFE, 60_000),
        (COLL, 30_000),
        (CARD, 10_000),
    ]


def test_topup_equal_to_the_rest_leaves_no_card_line_R_FUN_2() -> None:
    lines = compute_lines(
        price_cents=100_000, purpose=MANDATE, dife_available_cents=60_000, topups=[topup(40_000)]
    )
    assert [(line.source, line.amount_cents) for line in lines] == [(DIFE, 60_000), (COLL, 40_000)]


def test_topup_never_serves_a_reinsertion_training_R_FUN_2() -> None:
    lines = compute_lines(
        price_cents=100_000, purpose=REINSERTION, dife_available_cents=60_000, topups=[topup(40_000)]
    )
    assert COLL not in [line.source for line in lines]


def test_automatic_topup_is_requested_and_decided_at_once_R_FUN_2() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=60_000, topups=[topup(40_000)])
    assert [type(e) for e in plan.events] == [
        PlanProposed,
        DifeHoldRequested,
        CofundingRequested,
        CofundingDecided,
    ]
    plan.on_hold_placed(60_000)
    assert plan.status is PlanStatus.READY


def test_manual_topup_granted_in_part_moves_the_difference_to_the_card_R_FUN_2() -> None:
    plan = FundingPlan.propose(
        facts(100_000), dife_available_cents=60_000, topups=[topup(40_000, automatic=False)]
    )
    line = plan.topup_lines[0]
    assert line.request_id is not None
    returned = plan.decide_topup(line.request_id, approved=True, amount_cents=25_000)
    assert returned == 15_000
    assert shape(plan)[1:] == [(COLL, 25_000, LineStatus.SECURED), (CARD, 15_000, LineStatus.PENDING)]


def test_manual_topup_may_grant_exactly_what_was_asked_but_not_one_cent_more_R_FUN_2() -> None:
    plan = FundingPlan.propose(
        facts(100_000), dife_available_cents=60_000, topups=[topup(40_000, automatic=False)]
    )
    request_id = plan.topup_lines[0].request_id
    assert request_id is not None
    with pytest.raises(RuleBroken) as error:
        plan.decide_topup(request_id, approved=True, amount_cents=40_001)
    assert error.value.rule_id == "R-FUN-2"
    assert plan.decide_topup(request_id, approved=True, amount_cents=40_000) == 0


def test_refused_topup_goes_whole_to_the_card_and_cannot_be_decided_twice_R_FUN_2() -> None:
    plan = FundingPlan.propose(
        facts(100_000), dife_available_cents=60_000, topups=[topup(40_000, automatic=False)]
    )
    request_id = plan.topup_lines[0].request_id
    assert request_id is not None
    assert plan.decide_topup(request_id, approved=False, amount_cents=0) == 40_000
    assert shape(plan)[1:] == [(CARD, 40_000, LineStatus.PENDING)]
    with pytest.raises(RuleBroken):
        plan.decide_topup(request_id, approved=True, amount_cents=1)


# ---- R-FUN-3: CPF / CEC for reinsertion


def test_external_commitment_up_to_the_reste_a_charge_completes_a_reinsertion_plan_R_FUN_3() -> None:
    plan = FundingPlan.propose(facts(100_000, REINSERTION), dife_available_cents=60_000)
    plan.add_external_commitment(ExternalCommitment(CPF, "CPF-123", 40_000))
    assert shape(plan) == [(DIFE, 60_000, LineStatus.PENDING), (CPF, 40_000, LineStatus.SECURED)]
    assert plan.lines[1].reference == "CPF-123"
    plan.on_hold_placed(60_000)
    assert plan.status is PlanStatus.READY


def test_external_commitment_one_cent_above_the_reste_a_charge_is_refused_R_FUN_3() -> None:
    plan = FundingPlan.propose(facts(100_000, REINSERTION), dife_available_cents=60_000)
    with pytest.raises(RuleBroken) as error:
        plan.add_external_commitment(ExternalCommitment(CPF, "CPF-123", 40_001))
    assert error.value.rule_id == "R-FUN-3"


def test_external_commitment_is_refused_for_a_mandate_training_R_FUN_3() -> None:
    plan = FundingPlan.propose(facts(100_000, MANDATE), dife_available_cents=60_000)
    with pytest.raises(RuleBroken) as error:
        plan.add_external_commitment(ExternalCommitment(CPF, "CPF-123", 1_000))
    assert error.value.rule_id == "R-FUN-3"


def test_the_same_commitment_reference_cannot_be_used_twice_R_FUN_3() -> None:
    plan = FundingPlan.propose(facts(100_000, REINSERTION), dife_available_cents=0)
    plan.add_external_commitment(ExternalCommitment(CPF, "CPF-123", 10_000))
    with pytest.raises(Conflict):
        plan.add_external_commitment(ExternalCommitment(FundingSource.CEC, "CPF-123", 10_000))


# ---- R-FUN-4: card for the rest


def ready_for_card(price: int = 100_000, available: int = 60_000) -> FundingPlan:
    plan = FundingPlan.propose(facts(price), dife_available_cents=available)
    plan.on_hold_placed(available)
    return plan


def test_card_payment_waits_for_the_dife_hold_R_FUN_4() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=60_000)
    with pytest.raises(RuleBroken) as error:
        plan.card_amount_to_pay()
    assert error.value.rule_id == "R-FUN-4"
    plan.on_hold_placed(60_000)
    assert plan.card_amount_to_pay() == 40_000


def test_confirmed_exact_amount_makes_the_plan_ready_R_FUN_4() -> None:
    plan = ready_for_card()
    plan.confirm_card(amount_cents=40_000, provider_reference="pi_1")
    assert plan.status is PlanStatus.READY
    assert [type(e).__name__ for e in plan.events][-2:] == [CardPaymentConfirmed.__name__, PlanReady.__name__]


@pytest.mark.parametrize("amount", [39_999, 40_001])
def test_a_notification_one_cent_off_confirms_nothing_R_FUN_4(amount: int) -> None:
    plan = ready_for_card()
    with pytest.raises(RuleBroken) as error:
        plan.confirm_card(amount_cents=amount, provider_reference="pi_1")
    assert error.value.rule_id == "R-FUN-4"
    assert plan.card_line is not None and plan.card_line.status is LineStatus.PENDING


def test_money_arriving_for_an_ended_plan_is_refunded_R_FUN_4() -> None:
    plan = ready_for_card()
    plan.exit("refused", rights_consumed=False, policy=ConsumedExitPolicy())
    plan.confirm_card(amount_cents=40_000, provider_reference="pi_1")
    assert isinstance(plan.events[-1], CardRefundOrdered)


# ---- R-FUN-5: the sum


def test_a_zero_price_has_no_plan_R_FUN_5() -> None:
    with pytest.raises(RuleBroken) as error:
        compute_lines(price_cents=0, purpose=MANDATE, dife_available_cents=10)
    assert error.value.rule_id == "R-FUN-5"


def test_one_cent_price_is_one_dife_line_R_FUN_5() -> None:
    lines = compute_lines(price_cents=1, purpose=MANDATE, dife_available_cents=10)
    assert [(line.source, line.amount_cents) for line in lines] == [(DIFE, 1)]


# ---- exits and the acceptance deadline


def full_plan() -> FundingPlan:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=50_000, topups=[topup(30_000)])
    plan.on_hold_placed(50_000)
    plan.confirm_card(amount_cents=20_000, provider_reference="pi_9")
    assert plan.status is PlanStatus.READY
    return plan


def test_an_exit_gives_back_every_line_R_DOS_5() -> None:
    plan = full_plan()
    plan.exit("dossier refused", rights_consumed=False, policy=ConsumedExitPolicy())
    assert plan.status is PlanStatus.CLOSED
    assert [line.status for line in plan.lines] == [
        LineStatus.RELEASED,
        LineStatus.RELEASED,
        LineStatus.REFUNDED,
    ]
    assert [(t.returned_cents) for t in plan.ended_topups] == [30_000]
    assert {type(e) for e in plan.events[-2:]} == {DifeReleaseRequested, CardRefundOrdered}


def test_rights_consumed_keeps_the_dife_and_follows_the_default_policy_for_the_rest_R_DOS_5() -> None:
    plan = full_plan()
    before = len(plan.events)
    plan.exit("late cancellation", rights_consumed=True, policy=ConsumedExitPolicy())
    assert [line.status for line in plan.lines] == [
        LineStatus.CONSUMED,
        LineStatus.RELEASED,
        LineStatus.REFUNDED,
    ]
    assert plan.events[before:] == []  # payout refunds a ready plan's card (R-PAY-2): no second refund


def test_rights_consumed_before_the_plan_is_ready_refunds_the_card_here_R_DOS_5() -> None:
    """Payout never saw a plan that was not ready: funding orders that card refund itself."""
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=50_000)
    plan.confirm_card(amount_cents=50_000, provider_reference="pi_1")
    before = len(plan.events)
    plan.exit("late cancellation", rights_consumed=True, policy=ConsumedExitPolicy())
    assert [line.status for line in plan.lines] == [LineStatus.CONSUMED, LineStatus.REFUNDED]
    [refund] = plan.events[before:]
    assert isinstance(refund, CardRefundOrdered) and refund.amount_cents == 50_000


def test_rights_consumed_with_a_keep_everything_policy_releases_nothing_R_DOS_5() -> None:
    plan = full_plan()
    policy = ConsumedExitPolicy(cofunding=CofundingOnConsumedExit.CONSUME, card=CardOnConsumedExit.KEEP)
    plan.exit("no-show", rights_consumed=True, policy=policy)
    assert [line.status for line in plan.lines] == [LineStatus.CONSUMED] * 3
    assert [t.returned_cents for t in plan.ended_topups] == [0]


def test_a_second_exit_changes_nothing() -> None:
    plan = full_plan()
    plan.exit("refused", rights_consumed=False, policy=ConsumedExitPolicy())
    count = len(plan.events)
    plan.exit("expired", rights_consumed=False, policy=ConsumedExitPolicy())
    assert len(plan.events) == count


def test_deadline_fails_an_incomplete_plan_and_releases_the_requested_hold_R_DOS_1() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=60_000)
    plan.acceptance_deadline_passed()
    assert plan.status is PlanStatus.FAILED
    assert [type(e) for e in plan.events][-2:] == [DifeReleaseRequested, PlanFailed]


def test_deadline_leaves_a_ready_plan_alone_R_DOS_1() -> None:
    plan = full_plan()
    plan.acceptance_deadline_passed()
    assert plan.status is PlanStatus.READY


def test_a_failed_plan_cannot_fail_again() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=60_000)
    plan.fail("x")
    with pytest.raises(InvalidTransition):
        plan.fail("y")


def test_late_hold_answers_for_an_ended_plan_change_nothing() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=60_000)
    plan.exit("refused", rights_consumed=False, policy=ConsumedExitPolicy())
    count = len(plan.events)
    plan.on_hold_placed(60_000)
    plan.on_hold_rejected(HoldRejectionReason.INSUFFICIENT_RIGHTS, 0)
    assert len(plan.events) == count and plan.status is PlanStatus.CLOSED


def test_a_captured_hold_shows_the_dife_line_consumed_R_FUN_5() -> None:
    plan = full_plan()
    plan.on_hold_captured()
    assert plan.lines[0].status is LineStatus.CONSUMED and plan.status is PlanStatus.READY


def test_when_the_dife_shrinks_an_envelope_not_yet_asked_takes_part_of_the_card_R_FUN_2() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=100_000)
    plan.on_hold_rejected(HoldRejectionReason.INSUFFICIENT_RIGHTS, 60_000)
    new, grown = plan.cover_dife_gap([topup(30_000)])
    assert [line.amount_cents for line in new] == [30_000] and grown == []
    assert shape(plan) == [
        (DIFE, 60_000, LineStatus.PENDING),
        (COLL, 30_000, LineStatus.SECURED),
        (CARD, 10_000, LineStatus.PENDING),
    ]


def test_no_topup_is_added_to_a_reinsertion_plan_or_once_the_card_payment_started_R_FUN_2() -> None:
    reinsertion = FundingPlan.propose(facts(100_000, REINSERTION), dife_available_cents=0)
    assert reinsertion.cover_dife_gap([topup(30_000)]) == ([], [])
    started = FundingPlan.propose(facts(100_000), dife_available_cents=0)
    assert started.card_line is not None
    started.card_line.reference = "intent"
    assert started.cover_dife_gap([topup(30_000)]) == ([], [])


def test_each_refused_external_commitment_names_its_rule_and_field_R_FUN_3() -> None:
    mandate = FundingPlan.propose(facts(100_000, MANDATE), dife_available_cents=0)
    with pytest.raises(RuleBroken) as error:
        mandate.add_external_commitment(ExternalCommitment(CPF, "CPF-1", 1))
    assert (error.value.rule_id, error.value.field) == ("R-FUN-3", "source")
    plan = FundingPlan.propose(facts(100_000, REINSERTION), dife_available_cents=0)
    with pytest.raises(RuleBroken) as error:
        plan.add_external_commitment(ExternalCommitment(CARD, "CARD-1", 1))
    assert (error.value.rule_id, error.value.field) == ("R-FUN-3", "source")
    for amount in (0, 100_001):
        with pytest.raises(RuleBroken) as error:
            plan.add_external_commitment(ExternalCommitment(CPF, f"CPF-{amount}", amount))
        assert (error.value.rule_id, error.value.field) == ("R-FUN-3", "amount_cents")
    plan.add_external_commitment(ExternalCommitment(FundingSource.CEC, "CEC-1", 100_000))
    assert shape(plan) == [(FundingSource.CEC, 100_000, LineStatus.SECURED)]
    assert plan.status is PlanStatus.READY and plan.lines[0].reference == "CEC-1"
    with pytest.raises(InvalidTransition):
        plan.add_external_commitment(ExternalCommitment(CPF, "CPF-2", 1))


def test_commitments_go_between_the_dife_and_the_card_and_shrink_the_card_R_FUN_3() -> None:
    plan = FundingPlan.propose(facts(100_000, REINSERTION), dife_available_cents=50_000)
    plan.add_external_commitment(ExternalCommitment(CPF, "CPF-1", 20_000))
    plan.add_external_commitment(ExternalCommitment(FundingSource.CEC, "CEC-1", 10_000))
    assert shape(plan) == [
        (DIFE, 50_000, LineStatus.PENDING),
        (CPF, 20_000, LineStatus.SECURED),
        (FundingSource.CEC, 10_000, LineStatus.SECURED),
        (CARD, 20_000, LineStatus.PENDING),
    ]
    proposed = [e for e in plan.events if isinstance(e, PlanProposed)][-1]
    assert [(line.source, line.amount_cents, line.reference) for line in proposed.lines] == [
        (DIFE, 50_000, None),
        (CPF, 20_000, "CPF-1"),
        (FundingSource.CEC, 10_000, "CEC-1"),
        (CARD, 20_000, None),
    ]


def test_the_decision_on_an_unknown_request_names_the_request_R_FUN_2() -> None:
    plan = FundingPlan.propose(
        facts(100_000), dife_available_cents=60_000, topups=[topup(40_000, automatic=False)]
    )
    with pytest.raises(RuleBroken) as error:
        plan.decide_topup(uuid4(), approved=True, amount_cents=1)
    assert (error.value.rule_id, error.value.field) == ("R-FUN-2", "request_id")
    request_id = plan.topup_lines[0].request_id
    assert request_id is not None
    with pytest.raises(RuleBroken) as error:
        plan.decide_topup(request_id, approved=True, amount_cents=0)
    assert (error.value.rule_id, error.value.field) == ("R-FUN-2", "amount_cents")
    decided = [e for e in plan.events if isinstance(e, CofundingRequested)]
    assert decided[0].amount_cents == 40_000 and decided[0].request_id == request_id
    assert decided[0].siren == "213100017" and decided[0].deliberation_reference == "DEL-2026-1"
