"""Use cases on in-memory fakes: what each loads, decides and saves, and the events and timers it leaves."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from dife_contracts.enums import HoldRejectionReason, TrainingPurpose
from dife_contracts.events import (
    CardPaymentConfirmed,
    CofundingDecided,
    CofundingRequested,
    DifeHoldRequested,
    DifeReleaseRequested,
    DossierValidated,
    PlanFailed,
    PlanReady,
)
from funding.domain.balances import BalanceChange
from funding.domain.cofunding import DecisionMode
from funding.use_cases import card, cofunding, plans
from funding.use_cases.ports import Funding
from servicekit.clock import end_of_paris_day
from servicekit.rules import RuleBroken

SIREN = "213100017"


def validated(
    elu: uuid.UUID, price: int, purpose: TrainingPurpose = TrainingPurpose.MANDATE
) -> DossierValidated:
    return DossierValidated(
        dossier_id=uuid.uuid4(),
        elu_id=elu,
        offer_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        siret="12345678900011",
        purpose=purpose,
        price_cents=price,
        hours=Decimal("7"),
        training_start=date(2027, 3, 15),
        training_end=date(2027, 3, 16),
        validated_at=datetime(2027, 2, 1, 9, tzinfo=UTC),
        answer_deadline=date(2027, 2, 5),
    )


async def envelope(
    funding: Funding, mode: DecisionMode = DecisionMode.AUTOMATIC, budget: int = 100_000
) -> Any:
    await cofunding.register_code(funding, "31555", SIREN, "agent-1")
    return await cofunding.create_envelope(
        funding,
        SIREN,
        cofunding.NewEnvelope(
            collectivite_code="31555",
            deliberation_reference="DEL-1",
            deliberation_date=date(2027, 1, 10),
            budget_cents=budget,
            per_elu_ceiling_cents=30_000,
            valid_from=date(2027, 1, 1),
            valid_until=date(2027, 12, 31),
            decision_mode=mode,
            themes=[],
        ),
    )


async def elu_with(funding: Funding, available: int) -> uuid.UUID:
    elu = uuid.uuid4()
    await funding.mandates.replace(elu, [("31555", date(2020, 6, 28), None)])
    await funding.balances.apply(elu, BalanceChange(snapshot=True, cents=available))
    return elu


def outbox(funding: Funding) -> Any:
    return funding.outbox


async def test_proposing_reserves_the_automatic_top_up_and_sets_the_deadline_timer_R_FUN_2_R_DOS_1(
    funding: Funding,
) -> None:
    env = await envelope(funding)
    elu = await elu_with(funding, 50_000)
    event = validated(elu, 100_000)
    await plans.propose_plan(funding, event)
    stored = await funding.envelopes.get(env.envelope_id)
    assert stored is not None and stored.reserved_cents == 30_000
    [requested] = outbox(funding).of_type(CofundingRequested)
    [decided] = outbox(funding).of_type(CofundingDecided)
    assert requested.request_id == decided.request_id and decided.approved
    timer = funding.scheduler.by_key(plans.deadline_key(event.dossier_id))
    assert timer.run_after == end_of_paris_day(date(2027, 2, 5))


async def test_a_second_plan_of_the_elu_sees_the_dife_already_asked_for_R_FUN_1(funding: Funding) -> None:
    elu = await elu_with(funding, 80_000)
    await plans.propose_plan(funding, validated(elu, 50_000))
    await plans.propose_plan(funding, validated(elu, 50_000))
    amounts = [e.amount_cents for e in outbox(funding).of_type(DifeHoldRequested)]
    assert amounts == [50_000, 30_000]


async def test_a_second_validation_of_a_dossier_proposes_nothing(funding: Funding) -> None:
    env = await envelope(funding)
    elu = await elu_with(funding, 0)
    event = validated(elu, 10_000)
    await plans.propose_plan(funding, event)
    count = len(outbox(funding).events)
    assert await plans.propose_plan(funding, event) is None
    assert len(outbox(funding).events) == count
    stored = await funding.envelopes.get(env.envelope_id)
    assert stored is not None and stored.reserved_cents == 10_000


async def test_an_exit_gives_the_top_up_back_and_cancels_the_timer_R_DOS_5(funding: Funding) -> None:
    env = await envelope(funding)
    elu = await elu_with(funding, 50_000)
    event = validated(elu, 100_000)
    await plans.propose_plan(funding, event)
    await plans.dossier_ended(funding, event.dossier_id, "refused", rights_consumed=False)
    stored = await funding.envelopes.get(env.envelope_id)
    assert stored is not None and stored.reserved_cents == 0
    assert outbox(funding).of_type(DifeReleaseRequested)
    assert funding.scheduler.by_key(plans.deadline_key(event.dossier_id)) is None
    [request] = await funding.requests.list_of(SIREN, None, None, 10)
    assert request.status == "released"


async def test_a_partial_grant_returns_the_rest_to_the_envelope_R_FUN_2(funding: Funding) -> None:
    env = await envelope(funding, DecisionMode.MANUAL)
    elu = await elu_with(funding, 50_000)
    await plans.propose_plan(funding, validated(elu, 100_000))
    [request] = await funding.requests.list_of(SIREN, "pending", None, 10)
    decided = await cofunding.decide_request(
        funding, request.request_id, approved=True, amount_cents=10_000, ensure_siren=lambda siren: None
    )
    assert decided.status == "approved" and decided.granted_cents == 10_000
    stored = await funding.envelopes.get(env.envelope_id)
    assert stored is not None and stored.reserved_cents == 10_000


async def test_three_rejections_fail_the_plan_and_cancel_its_timer_R_FUN_1(funding: Funding) -> None:
    elu = await elu_with(funding, 80_000)
    event = validated(elu, 100_000)
    await plans.propose_plan(funding, event)
    for available in (70_000, 60_000, 50_000):
        await plans.hold_rejected(
            funding, event.dossier_id, HoldRejectionReason.INSUFFICIENT_RIGHTS, available
        )
    assert len(outbox(funding).of_type(DifeHoldRequested)) == 3
    assert outbox(funding).of_type(PlanFailed)
    assert funding.scheduler.by_key(plans.deadline_key(event.dossier_id)) is None


async def test_the_card_confirms_only_the_exact_intent_and_once_R_FUN_4(funding: Funding) -> None:
    elu = await elu_with(funding, 60_000)
    event = validated(elu, 100_000)
    await plans.propose_plan(funding, event)
    await plans.hold_placed(funding, event.dossier_id, 60_000)
    intent = await card.start_card_payment(funding, event.dossier_id, ensure_elu=lambda elu_id: None)
    assert intent.amount_cents == 40_000
    with pytest.raises(RuleBroken):
        await card.card_notification(funding, card.Notification("evt_bad", intent.intent_id, 40_001, "pi"))
    assert await card.card_notification(funding, card.Notification("evt_1", intent.intent_id, 40_000, "pi"))
    assert not await card.card_notification(
        funding, card.Notification("evt_1", intent.intent_id, 40_000, "pi")
    )
    assert len(outbox(funding).of_type(CardPaymentConfirmed)) == 1
    assert outbox(funding).of_type(PlanReady)


async def test_an_elu_cannot_start_a_payment_on_another_elus_plan(funding: Funding) -> None:
    elu = await elu_with(funding, 0)
    event = validated(elu, 10_000)
    await plans.propose_plan(funding, event)

    def refuse(elu_id: uuid.UUID) -> None:
        raise PermissionError(str(elu_id))

    with pytest.raises(PermissionError):
        await card.start_card_payment(funding, event.dossier_id, ensure_elu=refuse)
    assert await funding.payments.pending_of(event.dossier_id) == []


async def test_a_rejected_hold_lets_the_elus_envelope_cover_what_the_dife_no_longer_does_R_FUN_1_R_FUN_2(
    funding: Funding,
) -> None:
    env = await envelope(funding)
    elu = await elu_with(funding, 80_000)
    event = validated(elu, 80_000)
    await plans.propose_plan(funding, event)  # the DIFE covers it all: the envelope is not asked
    assert (await funding.envelopes.get(env.envelope_id)).reserved_cents == 0
    await plans.hold_rejected(funding, event.dossier_id, HoldRejectionReason.INSUFFICIENT_RIGHTS, 0)
    plan = await funding.plans.get(event.dossier_id)
    assert plan is not None
    assert [(line.source.value, line.amount_cents) for line in plan.lines] == [
        ("collectivite", 30_000),
        ("elu_card", 50_000),
    ]
    assert (await funding.envelopes.get(env.envelope_id)).reserved_cents == 30_000
    await plans.hold_rejected(funding, event.dossier_id, HoldRejectionReason.INSUFFICIENT_RIGHTS, 0)
    assert (await funding.envelopes.get(env.envelope_id)).reserved_cents == 30_000


async def test_the_deadline_timer_is_cancelled_once_when_the_plan_leaves_proposed_R_DOS_1(
    funding: Funding, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Later steps of a ready plan write no timer (one statement per ledger or payout event, issue 13)."""
    elu = await elu_with(funding, 100_000)
    event = validated(elu, 50_000)
    await plans.propose_plan(funding, event)
    key = plans.deadline_key(event.dossier_id)
    assert funding.scheduler.by_key(key) is not None
    cancels: list[str] = []
    cancel = funding.scheduler.cancel

    async def counted(wanted: str) -> int:
        cancels.append(wanted)
        return await cancel(wanted)

    monkeypatch.setattr(funding.scheduler, "cancel", counted)
    await plans.hold_placed(funding, event.dossier_id, 50_000)
    assert outbox(funding).of_type(PlanReady)
    assert funding.scheduler.by_key(key) is None and cancels == [key]
    await plans.hold_captured(funding, event.dossier_id)
    assert cancels == [key]
