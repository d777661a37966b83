"""A seeded property test over random prices, balances, envelopes and external commitments (R-FUN-1…5)."""

from __future__ import annotations

from datetime import date
from uuid import UUID, uuid4

from dife_contracts.enums import FundingSource, HoldRejectionReason, TrainingPurpose
from funding.domain.plan import (
    ENDED,
    DossierFacts,
    ExternalCommitment,
    FundingPlan,
    LineStatus,
    PlanStatus,
    TopUpCapacity,
    compute_lines,
)
from hypothesis import given, seed, settings
from hypothesis import strategies as st
from servicekit.rules import Conflict, InvalidTransition, RuleBroken

cents = st.integers(min_value=0, max_value=2_000_000)
topups = st.lists(
    st.builds(
        TopUpCapacity,
        envelope_id=st.uuids(),
        siren=st.just("213100017"),
        deliberation_reference=st.text(min_size=1, max_size=8),
        capacity_cents=st.integers(min_value=-10, max_value=500_000),
        automatic=st.booleans(),
    ),
    max_size=4,
)
externals = st.lists(
    st.builds(
        ExternalCommitment,
        source=st.sampled_from([FundingSource.CPF, FundingSource.CEC]),
        reference=st.text(min_size=1, max_size=4),
        amount_cents=st.integers(min_value=-10, max_value=500_000),
    ),
    max_size=4,
)


@seed(20261127)
@settings(max_examples=400, deadline=None)
@given(
    price=st.integers(min_value=1, max_value=2_000_000),
    available=cents,
    purpose=st.sampled_from(list(TrainingPurpose)),
    topups=topups,
    externals=externals,
)
def test_every_plan_sums_to_the_price_dife_first_no_topup_on_reinsertion_nothing_twice_R_FUN_1_to_5(
    price: int,
    available: int,
    purpose: TrainingPurpose,
    topups: list[TopUpCapacity],
    externals: list[ExternalCommitment],
) -> None:
    lines = compute_lines(
        price_cents=price, purpose=purpose, dife_available_cents=available, topups=topups, externals=externals
    )
    # R-FUN-5: exactly the price, every line positive
    assert sum(line.amount_cents for line in lines) == price
    assert all(line.amount_cents > 0 for line in lines)
    # R-FUN-1: DIFE first, exactly min(price, available), never above available
    dife = [line for line in lines if line.source is FundingSource.DIFE]
    assert sum(line.amount_cents for line in dife) == min(price, available) <= available
    if dife:
        assert lines[0].source is FundingSource.DIFE and len(dife) == 1
    # R-FUN-2: a top-up never serves reinsertion; each envelope at most once and within its capacity
    coll = [line for line in lines if line.source is FundingSource.COLLECTIVITE]
    if purpose is TrainingPurpose.REINSERTION:
        assert not coll
    capacity: dict[UUID, int] = {}
    for t in topups:
        capacity.setdefault(t.envelope_id, t.capacity_cents)
    assert len({line.envelope_id for line in coll}) == len(coll)
    assert all(
        line.envelope_id is not None and line.amount_cents <= capacity[line.envelope_id] for line in coll
    )
    # R-FUN-3: CPF/CEC only for reinsertion, each reference at most once
    ext = [line for line in lines if line.source in (FundingSource.CPF, FundingSource.CEC)]
    if purpose is TrainingPurpose.MANDATE:
        assert not ext
    assert len({line.reference for line in ext}) == len(ext)
    # R-FUN-4: at most one card line, last
    card = [line for line in lines if line.source is FundingSource.ELU_CARD]
    assert len(card) <= 1 and (not card or lines[-1] is card[0])
    # legal order: DIFE, then top-ups or commitments, then card
    order = {FundingSource.DIFE: 0, FundingSource.COLLECTIVITE: 1, FundingSource.CPF: 1, FundingSource.CEC: 1}
    ranks = [order.get(line.source, 2) for line in lines]
    assert ranks == sorted(ranks)


@seed(20261128)
@settings(max_examples=300, deadline=None)
@given(
    price=st.integers(min_value=1, max_value=500_000),
    available=st.integers(min_value=0, max_value=500_000),
    purpose=st.sampled_from(list(TrainingPurpose)),
    capacities=st.lists(st.integers(min_value=0, max_value=200_000), max_size=3),
    steps=st.lists(
        st.one_of(
            st.tuples(st.just("rejected"), st.integers(min_value=0, max_value=500_000)),
            st.tuples(st.just("placed"), st.just(0)),
            st.tuples(st.just("cpf"), st.integers(min_value=1, max_value=200_000)),
            st.tuples(st.just("decide"), st.integers(min_value=0, max_value=200_000)),
        ),
        max_size=8,
    ),
)
def test_a_plan_keeps_its_invariants_through_any_sequence_of_answers_R_FUN_1_to_5(
    price: int, available: int, purpose: TrainingPurpose, capacities: list[int], steps: list[tuple[str, int]]
) -> None:
    facts = DossierFacts(
        dossier_id=uuid4(),
        elu_id=uuid4(),
        siret="12345678900011",
        purpose=purpose,
        price_cents=price,
        training_start=date(2027, 3, 15),
        training_end=date(2027, 3, 16),
        acceptance_deadline=date(2027, 2, 5),
    )
    topups = [
        TopUpCapacity(uuid4(), "213100017", f"DEL-{i}", c, automatic=False) for i, c in enumerate(capacities)
    ]
    plan = FundingPlan.propose(facts, dife_available_cents=available, topups=topups)
    reserved = {line.envelope_id: line.amount_cents for line in plan.topup_lines}
    for index, (step, amount) in enumerate(steps):
        dife = plan.dife_line
        try:
            if step == "rejected":
                plan.on_hold_rejected(HoldRejectionReason.INSUFFICIENT_RIGHTS, amount)
            elif step == "placed" and dife is not None:
                plan.on_hold_placed(dife.amount_cents)
            elif step == "cpf":
                plan.add_external_commitment(ExternalCommitment(FundingSource.CPF, f"CPF-{index}", amount))
            elif step == "decide" and plan.topup_lines:
                line = plan.topup_lines[0]
                assert line.request_id is not None
                reserved[line.envelope_id] -= plan.decide_topup(
                    line.request_id, approved=amount > 0, amount_cents=min(amount, line.amount_cents)
                )
        except (RuleBroken, InvalidTransition, Conflict):
            pass  # a refused step changes nothing; the invariants below must still hold
        live = [line for line in plan.lines if line.status not in ENDED]
        if plan.status in (PlanStatus.PROPOSED, PlanStatus.READY):
            assert sum(line.amount_cents for line in plan.lines) == price
        dife_now = plan.dife_line
        assert dife_now is None or dife_now.amount_cents <= available
        assert dife_now is None or plan.lines[0] is dife_now
        if purpose is TrainingPurpose.REINSERTION:
            assert not plan.topup_lines
        else:
            assert not any(line.source in (FundingSource.CPF, FundingSource.CEC) for line in plan.lines)
        for line in plan.topup_lines:
            assert line.amount_cents <= reserved[line.envelope_id]
        assert all(line.amount_cents > 0 for line in live)
        assert (plan.status is PlanStatus.READY) == (
            plan.status is not PlanStatus.FAILED
            and all(line.status is LineStatus.SECURED for line in plan.lines)
        )
