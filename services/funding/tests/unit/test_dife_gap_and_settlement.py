"""When the DIFE hold comes back smaller, the top-ups cover the new gap within their envelope's rules before
the card (R-FUN-1, R-FUN-2); after a partial payout, the unused part of a top-up goes back (R-PAY-2)."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from uuid import UUID, uuid4

from dife_contracts.enums import FundingSource, HoldRejectionReason, TrainingPurpose
from dife_contracts.events import CofundingDecided, CofundingRequested, PlanProposed
from funding.domain.plan import (
    DossierFacts,
    EndedTopUp,
    ExternalCommitment,
    FundingPlan,
    LineStatus,
    PlanStatus,
    TopUpCapacity,
)
from funding.domain.policy import (
    CofundingOnConsumedExit,
    ConsumedExitPolicy,
    SettlementPolicy,
    UnusedTopUpOnSettlement,
)

DIFE, COLL, CARD = FundingSource.DIFE, FundingSource.COLLECTIVITE, FundingSource.ELU_CARD
INSUFFICIENT = HoldRejectionReason.INSUFFICIENT_RIGHTS
ENV_A, ENV_B, ENV_C = UUID(int=1), UUID(int=2), UUID(int=3)


def facts(price: int = 100_000, purpose: TrainingPurpose = TrainingPurpose.MANDATE) -> DossierFacts:
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


def topup(capacity: int, *, automatic: bool = True, envelope: UUID = ENV_A) -> TopUpCapacity:
    return TopUpCapacity(envelope, "213100017", "DEL-2026-1", capacity, automatic)


def shape(plan: FundingPlan) -> list[tuple[FundingSource, int, LineStatus]]:
    return [(line.source, line.amount_cents, line.status) for line in plan.lines]


def shrunk(capacity: int, *, automatic: bool = True, available_after: int = 40_000) -> FundingPlan:
    """DIFE 70 000 asked, the envelope gave the other 30 000 (of `capacity`), then the ledger reports less."""
    plan = FundingPlan.propose(
        facts(100_000), dife_available_cents=70_000, topups=[topup(capacity, automatic=automatic)]
    )
    plan.events.clear()
    plan.on_hold_rejected(INSUFFICIENT, available_after)
    return plan


def test_an_automatic_top_up_grows_by_the_new_gap_within_its_capacity_R_FUN_2() -> None:
    plan = shrunk(40_000)  # 30 000 given at first
    assert shape(plan)[1] == (COLL, 30_000, LineStatus.SECURED) and shape(plan)[2] == (
        CARD,
        30_000,
        LineStatus.PENDING,
    )
    new, grown = plan.cover_dife_gap([topup(10_000)], asked={ENV_A})
    assert new == [] and [(g.line.amount_cents, g.extra_cents) for g in grown] == [(40_000, 10_000)]
    assert shape(plan) == [
        (DIFE, 40_000, LineStatus.PENDING),
        (COLL, 40_000, LineStatus.SECURED),
        (CARD, 20_000, LineStatus.PENDING),
    ]
    [requested] = [e for e in plan.events if isinstance(e, CofundingRequested)]
    [decided] = [e for e in plan.events if isinstance(e, CofundingDecided)]
    assert requested.amount_cents == decided.amount_cents == 40_000 and decided.approved
    assert requested.request_id == decided.request_id == plan.topup_lines[0].request_id
    assert isinstance(plan.events[-3], PlanProposed)


def test_a_top_up_grows_by_the_whole_gap_when_its_capacity_equals_it_and_the_card_disappears_R_FUN_2() -> (
    None
):
    plan = shrunk(60_000)
    new, grown = plan.cover_dife_gap([topup(30_000)], asked={ENV_A})
    assert new == [] and [g.extra_cents for g in grown] == [30_000]
    assert shape(plan) == [(DIFE, 40_000, LineStatus.PENDING), (COLL, 60_000, LineStatus.SECURED)]


def test_a_top_up_grows_only_up_to_the_gap_when_its_capacity_is_one_cent_more_R_FUN_2() -> None:
    plan = shrunk(60_001)
    _, grown = plan.cover_dife_gap([topup(30_001)], asked={ENV_A})
    assert [g.extra_cents for g in grown] == [30_000]
    assert plan.card_line is None and sum(line.amount_cents for line in plan.lines) == 100_000


def test_an_envelope_with_nothing_left_leaves_the_gap_to_the_card_R_FUN_2() -> None:
    plan = shrunk(30_000)
    before = list(plan.events)
    assert plan.cover_dife_gap([topup(0)], asked={ENV_A}) == ([], [])
    assert plan.events == before
    assert shape(plan)[-1] == (CARD, 30_000, LineStatus.PENDING)


def test_a_manual_request_still_waiting_is_asked_again_for_the_larger_amount_R_FUN_2() -> None:
    plan = shrunk(50_000, automatic=False)
    _, grown = plan.cover_dife_gap([topup(20_000, automatic=False)], asked={ENV_A})
    assert [g.extra_cents for g in grown] == [20_000]
    assert shape(plan) == [
        (DIFE, 40_000, LineStatus.PENDING),
        (COLL, 50_000, LineStatus.PENDING),
        (CARD, 10_000, LineStatus.PENDING),
    ]
    [requested] = [e for e in plan.events if isinstance(e, CofundingRequested)]
    assert requested.amount_cents == 50_000 and not [
        e for e in plan.events if isinstance(e, CofundingDecided)
    ]


def test_a_manual_request_already_decided_is_not_asked_again_the_next_envelope_is_R_FUN_2() -> None:
    plan = shrunk(50_000, automatic=False)
    request_id = plan.topup_lines[0].request_id
    assert request_id is not None
    plan.decide_topup(request_id, approved=True, amount_cents=30_000)
    new, grown = plan.cover_dife_gap(
        [topup(20_000, automatic=False), topup(5_000, envelope=ENV_B)], asked={ENV_A}
    )
    assert grown == [] and [(line.envelope_id, line.amount_cents) for line in new] == [(ENV_B, 5_000)]
    assert shape(plan) == [
        (DIFE, 40_000, LineStatus.PENDING),
        (COLL, 30_000, LineStatus.SECURED),
        (COLL, 5_000, LineStatus.SECURED),
        (CARD, 25_000, LineStatus.PENDING),
    ]


def test_an_envelope_that_refused_this_dossier_is_not_asked_again_R_FUN_2() -> None:
    plan = shrunk(50_000, automatic=False)
    request_id = plan.topup_lines[0].request_id
    assert request_id is not None
    plan.decide_topup(request_id, approved=False, amount_cents=0)
    assert plan.topup_lines == []
    assert plan.cover_dife_gap([topup(50_000, automatic=False)], asked={ENV_A}) == ([], [])
    assert shape(plan)[-1] == (CARD, 60_000, LineStatus.PENDING)


def test_a_new_envelope_takes_the_gap_left_after_the_grown_one_R_FUN_2() -> None:
    plan = shrunk(35_000)
    new, grown = plan.cover_dife_gap([topup(5_000), topup(40_000, envelope=ENV_B)], asked={ENV_A})
    assert [g.extra_cents for g in grown] == [5_000]
    assert [(line.envelope_id, line.amount_cents) for line in new] == [(ENV_B, 25_000)]
    assert plan.card_line is None and sum(line.amount_cents for line in plan.lines) == 100_000
    assert plan.status is PlanStatus.PROPOSED  # the smaller DIFE hold is still to be placed


def test_no_gap_is_covered_on_a_reinsertion_plan_or_a_plan_no_longer_proposed_R_FUN_2() -> None:
    reinsertion = FundingPlan.propose(
        facts(100_000, TrainingPurpose.REINSERTION), dife_available_cents=60_000
    )
    reinsertion.on_hold_rejected(INSUFFICIENT, 40_000)
    assert reinsertion.cover_dife_gap([topup(50_000)]) == ([], [])
    failed = shrunk(40_000)
    failed.fail("deadline")
    assert failed.cover_dife_gap([topup(10_000)], asked={ENV_A}) == ([], [])


def test_a_plan_without_a_card_line_has_no_gap_to_cover_R_FUN_2() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=100_000)
    assert plan.card_line is None
    assert plan.cover_dife_gap([topup(50_000)]) == ([], [])
    assert replace(plan.facts).price_cents == 100_000


# ---- after a partial payout (R-PAY-2, R-FUN-2)

RETURN = SettlementPolicy()


def ready_plan() -> FundingPlan:
    """DIFE 50 000, the collectivité 30 000 (automatic), the card 20 000, all secured."""
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=50_000, topups=[topup(30_000)])
    plan.on_hold_placed(50_000)
    plan.confirm_card(amount_cents=20_000, provider_reference="pi_1")
    assert plan.status is PlanStatus.READY
    plan.events.clear()
    return plan


def settled(amount_due: int, policy: SettlementPolicy = RETURN) -> FundingPlan:
    plan = ready_plan()
    plan.settle(amount_due, policy=policy)
    return plan


def test_a_partial_payout_returns_the_unused_top_up_to_its_envelope_R_PAY_2_R_FUN_2() -> None:
    plan = settled(60_000)  # 60 %: the DIFE 50 000, then 10 000 of the top-up
    request_id = plan.topup_lines[0].request_id
    assert request_id is not None
    assert plan.ended_topups == [EndedTopUp(ENV_A, request_id, 20_000, consumed=True)]
    assert shape(plan) == [
        (DIFE, 50_000, LineStatus.SECURED),  # the ledger's capture ends it
        (COLL, 30_000, LineStatus.CONSUMED),
        (CARD, 20_000, LineStatus.RELEASED),  # payout refunds the card's unused part
    ]
    assert plan.status is PlanStatus.CLOSED and plan.events == []


def test_a_payout_covering_the_top_up_exactly_returns_nothing_and_leaves_the_card_undrawn_R_PAY_2() -> None:
    plan = settled(80_000)
    assert [t.returned_cents for t in plan.ended_topups] == [0]
    assert [line.status for line in plan.lines][1:] == [LineStatus.CONSUMED, LineStatus.RELEASED]


def test_one_cent_more_than_dife_and_top_up_draws_the_card_R_PAY_2() -> None:
    plan = settled(80_001)
    assert [t.returned_cents for t in plan.ended_topups] == [0]
    assert [line.status for line in plan.lines][1:] == [LineStatus.CONSUMED, LineStatus.CONSUMED]


def test_a_payout_within_the_dife_returns_the_whole_top_up_released_R_PAY_2_R_FUN_2() -> None:
    plan = settled(50_000)
    assert [(t.returned_cents, t.consumed) for t in plan.ended_topups] == [(30_000, False)]
    assert [line.status for line in plan.lines][1:] == [LineStatus.RELEASED, LineStatus.RELEASED]


def test_one_cent_of_top_up_drawn_returns_the_rest_R_PAY_2_R_FUN_2() -> None:
    plan = settled(50_001)
    assert [(t.returned_cents, t.consumed) for t in plan.ended_topups] == [(29_999, True)]


def test_a_full_payout_returns_nothing_and_consumes_every_line_R_PAY_2() -> None:
    plan = settled(100_000)
    assert [(t.returned_cents, t.consumed) for t in plan.ended_topups] == [(0, True)]
    assert [line.status for line in plan.lines][1:] == [LineStatus.CONSUMED, LineStatus.CONSUMED]


def test_with_a_keep_policy_the_unused_top_up_stays_spent_R_PAY_2() -> None:
    plan = settled(50_000, SettlementPolicy(unused_topup=UnusedTopUpOnSettlement.KEEP))
    assert [(t.returned_cents, t.consumed) for t in plan.ended_topups] == [(0, True)]
    assert plan.lines[1].status is LineStatus.CONSUMED


def test_cpf_and_cec_lines_end_drawn_or_not_and_nothing_returns_to_an_envelope_R_PAY_2_R_FUN_3() -> None:
    def reinsertion(amount_due: int) -> FundingPlan:
        plan = FundingPlan.propose(facts(100_000, TrainingPurpose.REINSERTION), dife_available_cents=50_000)
        plan.add_external_commitment(ExternalCommitment(FundingSource.CPF, "CPF-1", 30_000))
        plan.on_hold_placed(50_000)
        plan.confirm_card(amount_cents=20_000, provider_reference="pi_2")
        plan.settle(amount_due, policy=RETURN)
        return plan

    assert [line.status for line in reinsertion(50_001).lines][1:] == [
        LineStatus.CONSUMED,
        LineStatus.RELEASED,
    ]
    assert [line.status for line in reinsertion(50_000).lines][1:] == [
        LineStatus.RELEASED,
        LineStatus.RELEASED,
    ]
    assert reinsertion(50_000).ended_topups == []


def test_a_plan_not_ready_or_already_settled_is_not_settled_again_R_PAY_2() -> None:
    proposed = FundingPlan.propose(facts(100_000), dife_available_cents=50_000, topups=[topup(30_000)])
    proposed.settle(60_000, policy=RETURN)
    assert proposed.status is PlanStatus.PROPOSED and proposed.ended_topups == []
    plan = settled(60_000)
    plan.ended_topups.clear()
    plan.settle(10_000, policy=RETURN)
    assert plan.ended_topups == [] and plan.status is PlanStatus.CLOSED


def test_no_gap_is_covered_once_the_card_is_paid_or_its_payment_started_R_FUN_2() -> None:
    paid = FundingPlan.propose(facts(100_000), dife_available_cents=60_000)
    paid.confirm_card(amount_cents=40_000, provider_reference="pi_1")
    assert paid.cover_dife_gap([topup(50_000)]) == ([], [])
    started = FundingPlan.propose(facts(100_000), dife_available_cents=60_000)
    assert started.card_line is not None
    started.card_line.reference = "intent"
    assert started.cover_dife_gap([topup(50_000)]) == ([], [])


def test_a_new_envelope_line_is_recorded_requested_and_granted_for_its_amount_R_FUN_2() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=100_000)
    plan.on_hold_rejected(INSUFFICIENT, 70_000)
    plan.events.clear()
    new, _ = plan.cover_dife_gap([topup(10_000)])
    assert [(line.source, line.amount_cents, line.status, line.envelope_id) for line in new] == [
        (COLL, 10_000, LineStatus.SECURED, ENV_A)
    ]
    assert [type(e) for e in plan.events] == [PlanProposed, CofundingRequested, CofundingDecided]
    assert shape(plan)[-1] == (CARD, 20_000, LineStatus.PENDING)


def test_the_default_settlement_policy_returns_the_unused_top_up_R_PAY_2() -> None:
    assert SettlementPolicy().unused_topup is UnusedTopUpOnSettlement.RETURN


def test_a_top_up_consumed_by_a_late_cancellation_is_recorded_consumed_R_DOS_5() -> None:
    plan = ready_plan()
    plan.exit(
        "no-show", rights_consumed=True, policy=ConsumedExitPolicy(cofunding=CofundingOnConsumedExit.CONSUME)
    )
    request_id = plan.topup_lines[0].request_id
    assert request_id is not None
    assert plan.ended_topups == [EndedTopUp(ENV_A, request_id, 0, consumed=True)]


def test_a_one_cent_capacity_still_grows_a_top_up_R_FUN_2() -> None:
    plan = shrunk(30_001)
    _, grown = plan.cover_dife_gap([topup(1)], asked={ENV_A})
    assert [g.extra_cents for g in grown] == [1]
    assert shape(plan)[1:] == [(COLL, 30_001, LineStatus.SECURED), (CARD, 29_999, LineStatus.PENDING)]


def test_an_envelope_with_nothing_left_does_not_stop_the_next_one_R_FUN_2() -> None:
    plan = shrunk(30_000)
    new, grown = plan.cover_dife_gap([topup(0), topup(5_000, envelope=ENV_B)], asked={ENV_A})
    assert grown == [] and [(line.envelope_id, line.amount_cents) for line in new] == [(ENV_B, 5_000)]


def test_an_envelope_offered_twice_is_asked_once_R_FUN_2() -> None:
    plan = shrunk(30_000)
    new, grown = plan.cover_dife_gap(
        [topup(5_000, envelope=ENV_B), topup(5_000, envelope=ENV_B)], asked={ENV_A}
    )
    assert grown == [] and [(line.envelope_id, line.amount_cents) for line in new] == [(ENV_B, 5_000)]
    assert len(plan.topup_lines) == 2 and shape(plan)[-1] == (CARD, 25_000, LineStatus.PENDING)


def test_an_envelope_offered_twice_does_not_stop_the_envelope_after_it_R_FUN_2() -> None:
    plan = shrunk(30_000)  # a gap of 30 000 on the card
    new, grown = plan.cover_dife_gap(
        [topup(5_000, envelope=ENV_B), topup(5_000, envelope=ENV_B), topup(10_000, envelope=ENV_C)],
        asked={ENV_A},
    )
    assert grown == []
    assert [(line.envelope_id, line.amount_cents) for line in new] == [(ENV_B, 5_000), (ENV_C, 10_000)]
    assert shape(plan)[-1] == (CARD, 15_000, LineStatus.PENDING)


# ---- the card line takes the rest, down to the last cent (R-FUN-1, R-FUN-4)


def test_a_dife_hold_one_cent_short_of_the_price_adds_a_one_cent_card_line_R_FUN_1_R_FUN_4() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=100_000)
    assert plan.card_line is None
    plan.events.clear()
    plan.on_hold_rejected(INSUFFICIENT, 99_999)
    assert shape(plan) == [(DIFE, 99_999, LineStatus.PENDING), (CARD, 1, LineStatus.PENDING)]
    [proposed] = [e for e in plan.events if isinstance(e, PlanProposed)]
    assert [(line.source, line.amount_cents) for line in proposed.lines] == [(DIFE, 99_999), (CARD, 1)]


def test_a_dife_hold_rejected_for_the_whole_price_adds_no_card_line_R_FUN_1_R_FUN_4() -> None:
    plan = FundingPlan.propose(facts(100_000), dife_available_cents=100_000)
    plan.on_hold_rejected(INSUFFICIENT, 100_000)
    assert shape(plan) == [(DIFE, 100_000, LineStatus.PENDING)]


def test_a_top_up_granted_one_cent_less_than_asked_adds_a_one_cent_card_line_R_FUN_2_R_FUN_4() -> None:
    plan = FundingPlan.propose(
        facts(100_000), dife_available_cents=70_000, topups=[topup(30_000, automatic=False)]
    )
    assert plan.card_line is None
    request_id = plan.topup_lines[0].request_id
    assert request_id is not None
    assert plan.decide_topup(request_id, approved=True, amount_cents=29_999) == 1
    assert shape(plan) == [
        (DIFE, 70_000, LineStatus.PENDING),
        (COLL, 29_999, LineStatus.SECURED),
        (CARD, 1, LineStatus.PENDING),
    ]


def test_a_top_up_granted_in_full_adds_no_card_line_R_FUN_2_R_FUN_4() -> None:
    plan = FundingPlan.propose(
        facts(100_000), dife_available_cents=70_000, topups=[topup(30_000, automatic=False)]
    )
    request_id = plan.topup_lines[0].request_id
    assert request_id is not None
    assert plan.decide_topup(request_id, approved=True, amount_cents=30_000) == 0
    assert shape(plan) == [(DIFE, 70_000, LineStatus.PENDING), (COLL, 30_000, LineStatus.SECURED)]
