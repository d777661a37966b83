"""Each refusal of funding's domain exactly as the élu, the collectivité or an agent reads it (rule id, field,
message), and the edges mutation testing found unproven (issue 16): each test names the rule it pins."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

import pytest
from dife_contracts.enums import FundingSource, HoldRejectionReason, MandateFamily, TrainingPurpose
from dife_contracts.events import (
    AccountAdjusted,
    CardRefundOrdered,
    CofundingDecided,
    DifeHoldRequested,
    DifeReleaseRequested,
    HoldCaptured,
    HoldReleased,
    PensionLiquidated,
    RightsCredited,
    RightsExpired,
)
from funding.domain.balances import BalanceChange, balance_change, next_available
from funding.domain.card import SignatureCheck, check_signature, sign
from funding.domain.cofunding import DecisionMode, Envelope, collectivite_codes
from funding.domain.plan import (
    DossierFacts,
    EndedTopUp,
    ExternalCommitment,
    FundingPlan,
    Line,
    LineStatus,
    PlanStatus,
    TopUpCapacity,
    compute_lines,
)
from funding.domain.policy import CardOnConsumedExit, ConsumedExitPolicy
from servicekit.rules import Conflict, InvalidTransition, RuleBroken, RulesBroken

DIFE, COLL, CARD, CPF = (
    FundingSource.DIFE,
    FundingSource.COLLECTIVITE,
    FundingSource.ELU_CARD,
    FundingSource.CPF,
)
MANDATE, REINSERTION = TrainingPurpose.MANDATE, TrainingPurpose.REINSERTION
TODAY = date(2026, 11, 27)
ELU = UUID(int=7)
ENV = UUID(int=1)


def facts(price: int = 100_000, purpose: TrainingPurpose = MANDATE) -> DossierFacts:
    return DossierFacts(
        dossier_id=uuid4(),
        elu_id=ELU,
        siret="12345678900011",
        purpose=purpose,
        price_cents=price,
        training_start=date(2027, 3, 15),
        training_end=date(2027, 3, 16),
        acceptance_deadline=date(2027, 2, 5),
    )


def topup(capacity: int, automatic: bool = True) -> TopUpCapacity:
    return TopUpCapacity(ENV, "213100017", "DEL-2026-1", capacity, automatic)


def envelope(**changes: object) -> Envelope:
    fields: dict[str, object] = dict(
        envelope_id=ENV,
        siren="213100017",
        collectivite_code="31555",
        deliberation_reference="DEL-2026-17",
        deliberation_date=TODAY,
        budget_cents=100_000,
        per_elu_ceiling_cents=30_000,
        valid_from=date(2027, 1, 1),
        valid_until=date(2027, 12, 31),
        decision_mode=DecisionMode.AUTOMATIC,
        themes=[],
        today=TODAY,
        code_owner="213100017",
    )
    fields.update(changes)
    return Envelope.create(**fields)


def refusal(**changes: object) -> list[RuleBroken]:
    with pytest.raises(RulesBroken) as error:
        envelope(**changes)
    return error.value.broken


# ---- envelopes (R-FUN-2)


def test_each_envelope_refusal_reads_word_for_word_R_FUN_2() -> None:
    assert refusal(deliberation_reference="  ") == [
        RuleBroken("R-FUN-2", "the deliberation reference is required", field="deliberation_reference")
    ]
    assert refusal(deliberation_date=date(2026, 11, 28)) == [
        RuleBroken("R-FUN-2", "the deliberation must already be taken", field="deliberation_date")
    ]
    assert refusal(budget_cents=0, per_elu_ceiling_cents=1) == [
        RuleBroken("R-FUN-2", "the budget must be above zero", field="budget_cents")
    ]
    assert refusal(per_elu_ceiling_cents=0) == [
        RuleBroken(
            "R-FUN-2",
            "the per-élu ceiling is above zero and within the budget",
            field="per_elu_ceiling_cents",
        )
    ]
    assert refusal(valid_until=date(2026, 12, 31)) == [
        RuleBroken("R-FUN-2", "the validity ends on or after it starts", field="valid_until")
    ]


def test_a_one_cent_budget_takes_a_one_cent_ceiling_not_two_R_FUN_2() -> None:
    assert envelope(budget_cents=1, per_elu_ceiling_cents=1).per_elu_ceiling_cents == 1
    assert [rule.field for rule in refusal(budget_cents=1, per_elu_ceiling_cents=2)] == [
        "per_elu_ceiling_cents"
    ]


def test_an_epci_publishes_for_its_own_siren_with_no_registered_owner_R_FUN_2() -> None:
    epci = envelope(siren="200046977", collectivite_code="200046977", code_owner=None)
    assert epci.collectivite_code == "200046977"


def test_an_envelope_covers_a_training_starting_on_its_first_valid_day_not_the_day_before_R_FUN_2() -> None:
    opened = envelope()
    assert opened.covers(date(2027, 1, 1), date(2027, 1, 1))
    assert not opened.covers(date(2026, 12, 31), date(2027, 1, 1))


def test_closing_a_closed_envelope_names_its_status_and_the_step_R_FUN_2() -> None:
    closed = envelope()
    closed.close()
    with pytest.raises(InvalidTransition) as error:
        closed.close()
    assert (error.value.current, error.value.wanted, error.value.allowed) == ("closed", "close", ())


def test_a_mandate_starting_on_the_training_day_counts_R_FUN_2() -> None:
    assert collectivite_codes([("31555", date(2027, 3, 15), None)], date(2027, 3, 15)) == ["31555"]


# ---- the balance read model (R-FUN-1)


def test_movements_shift_the_balance_snapshots_reset_it_R_FUN_1() -> None:
    credited = RightsCredited(
        elu_id=ELU,
        campaign_id=uuid4(),
        year=2026,
        family=MandateFamily.MUNICIPAL,
        amount_cents=40_000,
        capped=False,
        balance_after_cents=90_000,
        credited_on=date(2026, 3, 30),
    )
    adjusted = AccountAdjusted(elu_id=ELU, amount_cents=-500, reason="x", balance_after_cents=0, by="agent")
    expired = RightsExpired(elu_id=ELU, amount_cents=300, expired_on=date(2027, 1, 1), reason="end")
    released = HoldReleased(elu_id=ELU, hold_id=uuid4(), dossier_id=uuid4(), released_cents=700, reason="x")
    captured = HoldCaptured(
        elu_id=ELU, hold_id=uuid4(), dossier_id=uuid4(), captured_cents=100, released_cents=200
    )
    assert balance_change(credited) == BalanceChange(snapshot=False, cents=40_000)
    assert balance_change(adjusted) == BalanceChange(snapshot=False, cents=-500)
    assert balance_change(expired) == BalanceChange(snapshot=False, cents=-300)
    assert balance_change(released) == BalanceChange(snapshot=False, cents=700)
    assert balance_change(captured) == BalanceChange(snapshot=False, cents=200)


def test_an_event_that_moves_no_rights_leaves_the_balance_R_FUN_1() -> None:
    liquidated = PensionLiquidated(elu_id=ELU, liquidated_on=date(2027, 1, 1))
    assert balance_change(liquidated) is None
    assert next_available(500, liquidated) == 500


# ---- the plan (R-FUN-1, R-FUN-5)


def test_lines_that_do_not_sum_to_the_price_are_refused_naming_both_sums_R_FUN_5() -> None:
    plan = FundingPlan(facts(100_000), PlanStatus.PROPOSED, [Line(CARD, 99_999)])
    with pytest.raises(RuleBroken) as error:
        plan._line_sum_is_the_price()
    assert error.value == RuleBroken("R-FUN-5", "plan lines sum to 99999 cents, not 100000")


def test_a_hold_of_another_amount_is_refused_naming_both_R_FUN_1() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=60_000)
    with pytest.raises(RuleBroken) as error:
        plan.on_hold_placed(50_000)
    assert error.value == RuleBroken("R-FUN-1", "hold of 50000 cents does not match the DIFE line of 60000")


def test_hold_answers_for_a_plan_without_dife_line_change_nothing_R_FUN_1() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=0)
    plan.on_hold_placed(1)
    plan.on_hold_captured()
    assert [(line.source, line.status) for line in plan.lines] == [(CARD, LineStatus.PENDING)]


def test_a_hold_placed_for_a_plan_no_longer_proposed_changes_nothing_R_FUN_1() -> None:
    plan = FundingPlan(facts(100_000), PlanStatus.CLOSED, [Line(DIFE, 100_000)])
    plan.on_hold_placed(100_000)
    assert plan.lines[0].status is LineStatus.PENDING and plan.events == []


def test_a_refused_élu_asks_no_release_of_rights_never_held_R_FUN_1() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=60_000)
    before = len(plan.events)
    plan.on_hold_rejected(HoldRejectionReason.NOT_ELIGIBLE, 0)
    assert plan.dife_line is not None and plan.dife_line.status is LineStatus.RELEASED
    assert not [e for e in plan.events[before:] if isinstance(e, DifeReleaseRequested)]
    assert plan.failure_reason == "DIFE hold rejected: not eligible"


def test_one_cent_left_is_still_asked_for_R_FUN_1() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=60_000)
    plan.on_hold_rejected(HoldRejectionReason.INSUFFICIENT_RIGHTS, 1)
    asked = [e.amount_cents for e in plan.events if isinstance(e, DifeHoldRequested)]
    assert asked == [60_000, 1]
    assert [(line.source, line.amount_cents) for line in plan.lines] == [(DIFE, 1), (CARD, 99_999)]


# ---- top-up decisions (R-FUN-2)


def manual_plan() -> FundingPlan:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=60_000, topups=[topup(40_000, False)])
    plan.events.clear()
    return plan


def request_of(plan: FundingPlan) -> UUID:
    request_id = plan.topup_lines[0].request_id
    assert request_id is not None
    return request_id


def test_an_unknown_request_reads_word_for_word_R_FUN_2() -> None:
    with pytest.raises(RuleBroken) as error:
        manual_plan().topup_line(uuid4())
    assert error.value == RuleBroken(
        "R-FUN-2", "this plan has no top-up request with that id", field="request_id"
    )


def test_an_approval_of_more_than_asked_reads_word_for_word_and_one_cent_is_granted_R_FUN_2() -> None:
    plan = manual_plan()
    with pytest.raises(RuleBroken) as error:
        plan.decide_topup(request_of(plan), approved=True, amount_cents=40_001)
    assert error.value == RuleBroken(
        "R-FUN-2", "an approval grants between 1 and the 40000 cents asked", field="amount_cents"
    )
    assert plan.decide_topup(request_of(plan), approved=True, amount_cents=1) == 39_999
    [decided] = [e for e in plan.events if isinstance(e, CofundingDecided)]
    assert (decided.approved, decided.amount_cents) == (True, 1)


def test_a_refusal_grants_nothing_whatever_amount_it_carries_R_FUN_2() -> None:
    plan = manual_plan()
    assert plan.decide_topup(request_of(plan), approved=False, amount_cents=5_000) == 40_000
    [decided] = [e for e in plan.events if isinstance(e, CofundingDecided)]
    assert (decided.approved, decided.amount_cents) == (False, 0)


def test_a_request_decided_once_cannot_be_decided_again_R_FUN_2() -> None:
    plan = manual_plan()
    request_id = request_of(plan)
    plan.decide_topup(request_id, approved=True, amount_cents=40_000)
    assert plan.status is PlanStatus.PROPOSED  # the DIFE hold is still pending
    with pytest.raises(InvalidTransition) as error:
        plan.decide_topup(request_id, approved=True, amount_cents=40_000)
    assert (error.value.current, error.value.wanted, error.value.allowed) == (
        "proposed/secured",
        "decide",
        (),
    )


def test_an_automatic_grant_is_recorded_approved_for_its_amount_R_FUN_2() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=60_000, topups=[topup(40_000)])
    [decided] = [e for e in plan.events if isinstance(e, CofundingDecided)]
    assert (decided.approved, decided.amount_cents) == (True, 40_000)


# ---- CPF / CEC (R-FUN-3)


def reinsertion(dife: int = 50_000) -> FundingPlan:
    return FundingPlan.propose(facts(100_000, REINSERTION), dife_available_cents=dife)


def test_each_commitment_refusal_reads_word_for_word_R_FUN_3() -> None:
    with pytest.raises(RuleBroken) as error:
        FundingPlan.propose(facts(), dife_available_cents=0).add_external_commitment(
            ExternalCommitment(CPF, "CPF-1", 1)
        )
    assert error.value == RuleBroken(
        "R-FUN-3", "CPF and CEC rights complete only a reinsertion training", field="source"
    )
    with pytest.raises(RuleBroken) as error:
        reinsertion().add_external_commitment(ExternalCommitment(CARD, "X", 1))
    assert error.value == RuleBroken("R-FUN-3", "an external commitment is CPF or CEC", field="source")
    with pytest.raises(RuleBroken) as error:
        reinsertion().add_external_commitment(ExternalCommitment(CPF, "CPF-1", 50_001))
    assert error.value == RuleBroken(
        "R-FUN-3", "a commitment covers at most the reste à charge of 50000 cents", field="amount_cents"
    )


def test_a_reference_already_in_the_plan_is_a_conflict_of_R_FUN_3() -> None:
    plan = reinsertion()
    plan.add_external_commitment(ExternalCommitment(CPF, "CPF-1", 1_000))
    with pytest.raises(Conflict) as error:
        plan.add_external_commitment(ExternalCommitment(CPF, "CPF-1", 1_000))
    assert (error.value.message, error.value.rule_id) == (
        "commitment 'CPF-1' is already in the plan",
        "R-FUN-3",
    )


def test_a_commitment_on_a_plan_no_longer_proposed_names_the_status_R_FUN_3() -> None:
    plan = reinsertion(dife=100_000)
    plan.on_hold_placed(100_000)
    with pytest.raises(InvalidTransition) as error:
        plan.add_external_commitment(ExternalCommitment(CPF, "CPF-1", 1))
    assert (error.value.current, error.value.wanted) == ("ready", "add an external commitment")


def test_a_one_cent_commitment_is_taken_and_none_without_a_reste_a_charge_R_FUN_3() -> None:
    plan = reinsertion()
    plan.add_external_commitment(ExternalCommitment(CPF, "CPF-1", 1))
    assert [(line.source, line.amount_cents) for line in plan.lines] == [
        (DIFE, 50_000),
        (CPF, 1),
        (CARD, 49_999),
    ]
    covered = FundingPlan.propose(facts(100_000, REINSERTION), dife_available_cents=100_000)
    with pytest.raises(RuleBroken) as error:
        covered.add_external_commitment(ExternalCommitment(CPF, "CPF-2", 1))
    assert error.value.message == "a commitment covers at most the reste à charge of 0 cents"


def test_a_commitment_leaving_one_cent_keeps_a_one_cent_card_line_R_FUN_3_R_FUN_4() -> None:
    plan = reinsertion()
    plan.add_external_commitment(ExternalCommitment(CPF, "CPF-1", 49_999))
    assert [(line.source, line.amount_cents) for line in plan.lines] == [
        (DIFE, 50_000),
        (CPF, 49_999),
        (CARD, 1),
    ]


# ---- the card (R-FUN-4)


def test_paying_before_the_other_lines_are_secured_reads_word_for_word_R_FUN_4() -> None:
    with pytest.raises(RuleBroken) as error:
        FundingPlan.propose(facts(), dife_available_cents=50_000).card_amount_to_pay()
    assert error.value == RuleBroken(
        "R-FUN-4", "the card pays the remainder once the DIFE and top-ups are secured"
    )


def test_no_card_payment_without_a_pending_card_line_names_the_status_R_FUN_4() -> None:
    without_card = FundingPlan.propose(facts(), dife_available_cents=100_000)
    with pytest.raises(InvalidTransition) as error:
        without_card.card_amount_to_pay()
    assert (error.value.current, error.value.wanted, error.value.allowed) == ("proposed", "pay by card", ())
    failed = FundingPlan(facts(), PlanStatus.FAILED, [Line(CARD, 100_000)])
    with pytest.raises(InvalidTransition):
        failed.card_amount_to_pay()


def test_a_notification_of_another_amount_reads_word_for_word_and_confirms_nothing_R_FUN_4() -> None:
    plan = FundingPlan.propose(facts(), dife_available_cents=0)
    with pytest.raises(RuleBroken) as error:
        plan.confirm_card(amount_cents=99_999, provider_reference="pi_1")
    assert error.value == RuleBroken(
        "R-FUN-4", "the notification says 99999 cents, the reste à charge is 100000", field="amount_cents"
    )
    plan.confirm_card(amount_cents=100_000, provider_reference="pi_1")
    assert plan.card_line is not None and plan.card_line.reference == "pi_1"


def test_money_for_a_plan_without_card_or_no_longer_proposed_is_refunded_word_for_word_R_FUN_4() -> None:
    for plan in (
        FundingPlan.propose(facts(), dife_available_cents=100_000),
        FundingPlan(facts(), PlanStatus.FAILED, [Line(CARD, 100_000)]),
    ):
        plan.confirm_card(amount_cents=100_000, provider_reference="pi_7")
        [refund] = [e for e in plan.events if isinstance(e, CardRefundOrdered)]
        assert (refund.amount_cents, refund.provider_reference, refund.reason) == (
            100_000,
            "pi_7",
            "card payment received for a plan that no longer waits for it",
        )


def test_a_plan_whose_card_is_paid_cannot_change_its_lines_R_FUN_4() -> None:
    plan = FundingPlan.propose(facts(), dife_available_cents=60_000)
    plan.confirm_card(amount_cents=40_000, provider_reference="pi_1")  # paid before the hold answered
    with pytest.raises(Conflict) as error:
        plan.on_hold_rejected(HoldRejectionReason.INSUFFICIENT_RIGHTS, 10_000)
    assert (error.value.message, error.value.rule_id) == (
        "the card payment is already made; the plan cannot change",
        "R-FUN-4",
    )


# ---- failure and exits (R-DOS-1, R-DOS-5)


def test_failing_twice_names_the_status_and_the_first_reason_stays_R_DOS_1() -> None:
    plan = FundingPlan.propose(facts(), dife_available_cents=0)
    plan.fail("the acceptance deadline passed")
    assert plan.failure_reason == "the acceptance deadline passed"
    with pytest.raises(InvalidTransition) as error:
        plan.fail("again")
    assert (error.value.current, error.value.wanted, error.value.allowed) == ("failed", "fail", ())
    assert plan.failure_reason == "the acceptance deadline passed"


def ready_plan() -> FundingPlan:
    plan = FundingPlan.propose(facts(), dife_available_cents=50_000, topups=[topup(30_000)])
    plan.on_hold_placed(50_000)
    plan.confirm_card(amount_cents=20_000, provider_reference="pi_9")
    assert plan.status is PlanStatus.READY
    return plan


def test_a_refusal_returns_the_top_up_released_and_refunds_the_card_with_its_reference_R_DOS_5() -> None:
    plan = ready_plan()
    plan.exit("dossier refused", rights_consumed=False, policy=ConsumedExitPolicy())
    assert plan.ended_topups == [EndedTopUp(ENV, request_of(plan), 30_000, consumed=False)]
    [refund] = [e for e in plan.events if isinstance(e, CardRefundOrdered)]
    assert (refund.provider_reference, refund.amount_cents, refund.reason) == (
        "pi_9",
        20_000,
        "dossier refused",
    )


def test_an_exit_releases_a_card_never_paid_R_DOS_5() -> None:
    plan = FundingPlan.propose(facts(), dife_available_cents=0)
    plan.exit("dossier expired", rights_consumed=False, policy=ConsumedExitPolicy())
    assert [line.status for line in plan.lines] == [LineStatus.RELEASED]
    assert not [e for e in plan.events if isinstance(e, CardRefundOrdered)]


def test_a_late_cancellation_after_the_capture_still_ends_every_other_line_R_DOS_5() -> None:
    plan = ready_plan()
    plan.on_hold_captured()
    plan.exit("late cancellation", rights_consumed=True, policy=ConsumedExitPolicy())
    assert [line.status for line in plan.lines] == [
        LineStatus.CONSUMED,
        LineStatus.RELEASED,
        LineStatus.REFUNDED,
    ]


def test_with_a_keep_policy_an_unpaid_card_is_released_not_consumed_R_DOS_5() -> None:
    plan = FundingPlan.propose(facts(), dife_available_cents=50_000)
    plan.exit("no-show", rights_consumed=True, policy=ConsumedExitPolicy(card=CardOnConsumedExit.KEEP))
    assert [line.status for line in plan.lines] == [LineStatus.CONSUMED, LineStatus.RELEASED]


# ---- the provider's signature (R-FUN-4)

SECRET = "psp-secret"
BODY = b'{"id":"evt_1"}'


def digest(timestamp: int) -> str:
    return sign(SECRET, timestamp, BODY).split("v1=", 1)[1]


def test_a_v1_value_holding_an_equals_sign_is_a_bad_signature_not_a_malformed_header_R_FUN_4() -> None:
    assert check_signature("t=100,v1=ab=cd", BODY, [SECRET], 100) is SignatureCheck.BAD_SIGNATURE


def test_a_12_digit_timestamp_is_read_a_13_digit_one_is_malformed_R_FUN_4() -> None:
    twelve, thirteen = 10**11, 10**12
    assert check_signature(f"t={twelve},v1={digest(twelve)}", BODY, [SECRET], 100) is SignatureCheck.STALE
    assert (
        check_signature(f"t={thirteen},v1={digest(thirteen)}", BODY, [SECRET], 100)
        is SignatureCheck.MALFORMED
    )


def test_only_v1_carries_a_signature_R_FUN_4() -> None:
    assert check_signature(f"t=100,v0={digest(100)}", BODY, [SECRET], 100) is SignatureCheck.MALFORMED


# ---- compute_lines edges (R-FUN-2, R-FUN-3, R-FUN-5)


def test_a_price_of_zero_reads_word_for_word_one_cent_is_planned_R_FUN_5() -> None:
    with pytest.raises(RuleBroken) as error:
        compute_lines(price_cents=0, purpose=MANDATE, dife_available_cents=0)
    assert error.value == RuleBroken(
        "R-FUN-5", "a plan needs a training price above zero", field="price_cents"
    )
    assert [
        (line.source, line.amount_cents)
        for line in compute_lines(price_cents=1, purpose=MANDATE, dife_available_cents=0)
    ] == [(CARD, 1)]


def test_a_one_cent_top_up_is_taken_an_empty_envelope_is_skipped_not_the_end_R_FUN_2() -> None:
    empty = TopUpCapacity(UUID(int=2), "213100017", "DEL-0", 0, True)
    one = TopUpCapacity(UUID(int=3), "213100017", "DEL-1", 1, True)
    lines = compute_lines(price_cents=10, purpose=MANDATE, dife_available_cents=0, topups=[empty, one])
    assert [(line.source, line.amount_cents, line.envelope_id) for line in lines] == [
        (COLL, 1, UUID(int=3)),
        (CARD, 9, None),
    ]


def test_an_envelope_listed_twice_is_asked_once_R_FUN_2() -> None:
    lines = compute_lines(
        price_cents=100, purpose=MANDATE, dife_available_cents=0, topups=[topup(30), topup(30)]
    )
    assert [(line.source, line.amount_cents) for line in lines] == [(COLL, 30), (CARD, 70)]


def test_a_zero_commitment_gives_no_line_R_FUN_3() -> None:
    lines = compute_lines(
        price_cents=100,
        purpose=REINSERTION,
        dife_available_cents=0,
        externals=[ExternalCommitment(CPF, "CPF-0", 0), ExternalCommitment(CPF, "CPF-1", 10)],
    )
    assert [(line.source, line.amount_cents, line.reference) for line in lines] == [
        (CPF, 10, "CPF-1"),
        (CARD, 90, None),
    ]


def test_a_one_cent_commitment_is_a_secured_line_and_a_reference_counts_once_R_FUN_3() -> None:
    lines = compute_lines(
        price_cents=100,
        purpose=REINSERTION,
        dife_available_cents=0,
        externals=[ExternalCommitment(CPF, "CPF-1", 1), ExternalCommitment(CPF, "CPF-1", 5)],
    )
    assert [(line.source, line.amount_cents, line.status, line.reference) for line in lines] == [
        (CPF, 1, LineStatus.SECURED, "CPF-1"),
        (CARD, 99, LineStatus.PENDING, None),
    ]
