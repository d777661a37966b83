"""Plans: propose on validation, follow the ledger's answers, end on the dossier's exit or the deadline."""

from __future__ import annotations

from uuid import UUID

import structlog
from dife_contracts.enums import HoldRejectionReason, TrainingPurpose
from dife_contracts.events import DossierValidated
from servicekit.clock import end_of_paris_day
from servicekit.rules import NotFound

from funding.adapters.repositories import CofundingRequest
from funding.domain.cofunding import DecisionMode, Envelope, collectivite_codes
from funding.domain.plan import (
    DossierFacts,
    FundingPlan,
    Line,
    LineStatus,
    PlanStatus,
    TopUpCapacity,
    TopUpGrowth,
)
from funding.use_cases.ports import Funding

log = structlog.get_logger(__name__)

DEADLINE_TIMER = "funding.acceptance_deadline"


def deadline_key(dossier_id: UUID) -> str:
    return f"plan-deadline:{dossier_id}"


async def commit_plan(funding: Funding, plan: FundingPlan) -> None:
    """Save the plan, write its events, give ended top-ups back to their envelopes, settle the deadline timer.
    Envelopes are touched in id order, as when reserving, so two transactions never wait on each other."""
    leaving_proposed = plan.status_when_loaded in (None, PlanStatus.PROPOSED)
    plan.status_when_loaded = plan.status
    await funding.plans.save(plan)
    for ended in sorted(plan.ended_topups, key=lambda t: t.envelope_id):
        await funding.envelopes.give_back(ended.envelope_id, plan.elu_id, ended.returned_cents)
        await funding.requests.set_status(ended.request_id, "consumed" if ended.consumed else "released")
    plan.ended_topups.clear()
    await funding.outbox.add_many(plan.events)
    plan.events.clear()
    if plan.status is not PlanStatus.PROPOSED and leaving_proposed:
        # The deadline timer exists only while proposed (a plan never comes back to it): cancelling it on
        # every later step was one more statement per ledger or payout event (issue 13).
        await funding.scheduler.cancel(deadline_key(plan.dossier_id))


async def propose_plan(funding: Funding, event: DossierValidated) -> FundingPlan | None:
    """R-FUN-1…5: the plan of a validated dossier; a second validation of the same dossier changes nothing."""
    facts = DossierFacts(
        dossier_id=event.dossier_id,
        elu_id=event.elu_id,
        siret=event.siret,
        purpose=event.purpose,
        price_cents=event.price_cents,
        training_start=event.training_start,
        training_end=event.training_end,
        acceptance_deadline=event.answer_deadline,
        theme_code=event.theme_code,
    )
    available = await funding.balances.locked_available(event.elu_id)
    if available > 0:  # a second statement: it sees plans committed while it waited for the lock
        available = max(0, available - await funding.balances.in_flight_cents(event.elu_id))
    capacities, candidates = await _capacities(funding, facts)
    plan = FundingPlan.propose(facts, dife_available_cents=available, topups=capacities)
    if not await funding.plans.add(plan):
        log.info("plan already exists", dossier_id=str(event.dossier_id))
        return None
    await _reserve(funding, plan, plan.topup_lines, candidates)
    if plan.status is PlanStatus.PROPOSED:
        await funding.scheduler.schedule(
            DEADLINE_TIMER,
            run_after=end_of_paris_day(facts.acceptance_deadline),
            params={"dossier_id": str(facts.dossier_id)},
            key=deadline_key(facts.dossier_id),
        )
    await commit_plan(funding, plan)
    return plan


async def _capacities(funding: Funding, facts: DossierFacts) -> tuple[list[TopUpCapacity], list[Envelope]]:
    """R-FUN-2: what each open envelope of the élu's collectivités can still give them, envelopes locked."""
    if facts.purpose is not TrainingPurpose.MANDATE:  # no envelope is even locked for reinsertion
        return [], []
    codes = collectivite_codes(await funding.mandates.of(facts.elu_id), facts.training_start)
    locked = await funding.envelopes.lock_candidates(codes, facts.training_start, facts.training_end)
    candidates = [envelope for envelope in locked if envelope.serves_theme(facts.theme_code)]
    used = await funding.envelopes.elu_reserved([e.envelope_id for e in candidates], facts.elu_id)
    capacities = [
        TopUpCapacity(
            envelope_id=envelope.envelope_id,
            siren=envelope.siren,
            deliberation_reference=envelope.deliberation_reference,
            capacity_cents=envelope.capacity_for(used.get(envelope.envelope_id, 0)),
            automatic=envelope.decision_mode is DecisionMode.AUTOMATIC,
        )
        for envelope in candidates
    ]
    return capacities, candidates


async def _reserve(
    funding: Funding, plan: FundingPlan, lines: list[Line], candidates: list[Envelope]
) -> None:
    """Reserve each new top-up line on its (locked) envelope and record its request."""
    by_id = {envelope.envelope_id: envelope for envelope in candidates}
    for line in lines:
        assert line.envelope_id is not None and line.request_id is not None and line.siren is not None
        await funding.envelopes.reserve(by_id[line.envelope_id], plan.elu_id, line.amount_cents)
        automatic = line.status is LineStatus.SECURED
        await funding.requests.add(
            CofundingRequest(
                request_id=line.request_id,
                envelope_id=line.envelope_id,
                dossier_id=plan.dossier_id,
                elu_id=plan.elu_id,
                siren=line.siren,
                requested_cents=line.amount_cents,
                granted_cents=line.amount_cents if automatic else None,
                status="approved" if automatic else "pending",
            )
        )


async def _plan_or_none(funding: Funding, dossier_id: UUID) -> FundingPlan | None:
    plan = await funding.plans.get(dossier_id, for_update=True)
    if plan is None:
        log.info("no plan for this dossier; nothing to do", dossier_id=str(dossier_id))
    return plan


async def hold_placed(funding: Funding, dossier_id: UUID, amount_cents: int) -> None:
    plan = await _plan_or_none(funding, dossier_id)
    if plan is not None:
        plan.on_hold_placed(amount_cents)
        await commit_plan(funding, plan)


async def hold_captured(funding: Funding, dossier_id: UUID) -> None:
    plan = await _plan_or_none(funding, dossier_id)
    if plan is not None:
        plan.on_hold_captured()
        await commit_plan(funding, plan)


async def hold_rejected(
    funding: Funding, dossier_id: UUID, reason: HoldRejectionReason, available_cents: int
) -> None:
    plan = await _plan_or_none(funding, dossier_id)
    if plan is not None:
        plan.on_hold_rejected(reason, available_cents, max_attempts=funding.max_hold_attempts)
        if plan.status is PlanStatus.PROPOSED:
            capacities, candidates = await _capacities(funding, plan.facts)
            if capacities:
                asked = await funding.requests.envelopes_asked(dossier_id)
                new_lines, grown = plan.cover_dife_gap(capacities, asked)
                await _grow(funding, plan, grown, candidates)
                await _reserve(funding, plan, new_lines, candidates)
        await commit_plan(funding, plan)


async def _grow(
    funding: Funding, plan: FundingPlan, grown: list[TopUpGrowth], candidates: list[Envelope]
) -> None:
    """R-FUN-2: reserve what a grown top-up line adds on its (locked) envelope and update its request."""
    by_id = {envelope.envelope_id: envelope for envelope in candidates}
    for growth in grown:
        line = growth.line
        assert line.envelope_id is not None and line.request_id is not None
        await funding.envelopes.reserve(by_id[line.envelope_id], plan.elu_id, growth.extra_cents)
        granted = line.amount_cents if line.status is LineStatus.SECURED else None
        await funding.requests.set_amounts(line.request_id, line.amount_cents, granted)


async def dossier_ended(funding: Funding, dossier_id: UUID, reason: str, *, rights_consumed: bool) -> None:
    """Refusal, expiry, cancellation: give back what was reserved (R-DOS-5 policy if rights are consumed)."""
    plan = await _plan_or_none(funding, dossier_id)
    if plan is None:
        return
    plan.exit(reason, rights_consumed=rights_consumed, policy=funding.policy)
    for intent in await funding.payments.pending_of(dossier_id):
        await funding.payments.set_status(intent.intent_id, "superseded")
    await commit_plan(funding, plan)


async def payment_ordered(funding: Funding, dossier_id: UUID, amount_due_cents: int) -> None:
    """R-PAY-2: payout ordered the organisme's payment; the lines end as payout drew them and the unused part
    of a top-up returns to its envelope (`funding.settlement`)."""
    plan = await _plan_or_none(funding, dossier_id)
    if plan is not None:
        plan.settle(amount_due_cents, policy=funding.settlement)
        await commit_plan(funding, plan)


async def acceptance_deadline_passed(funding: Funding, dossier_id: UUID) -> None:
    """R-DOS-1: the acceptance deadline passed with the plan incomplete: it fails, everything goes back."""
    plan = await _plan_or_none(funding, dossier_id)
    if plan is not None:
        plan.acceptance_deadline_passed()
        await commit_plan(funding, plan)


async def get_plan(funding: Funding, dossier_id: UUID) -> FundingPlan:
    plan = await funding.plans.get(dossier_id)
    if plan is None:
        raise NotFound(f"no funding plan for dossier {dossier_id}")
    return plan
