"""A seeded property test over random prices, balances, envelopes and external commitments (R-FUN-1…5)."""

from __future__ import annotations

from uuid import UUID

from dife_contracts.enums import FundingSource, TrainingPurpose
from funding.domain.plan import ExternalCommitment, TopUpCapacity, compute_lines
from hypothesis import given, seed, settings
from hypothesis import strategies as st

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
