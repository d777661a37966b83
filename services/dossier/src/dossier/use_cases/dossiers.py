"""Use cases of the dossier: submission, the organisme's and the élu's steps, timers, controls, payment."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

import structlog
from dife_contracts.enums import DossierStatus
from servicekit.errors import Forbidden
from servicekit.rules import InvalidTransition, NotFound, RuleBroken, RulesBroken

from dossier.domain.controls import Control, ControlKind, ControlStatus
from dossier.domain.dossier import Actor, Dossier, FundingPlan
from dossier.domain.eligibility import EnrolmentRequest, seats_of
from dossier.domain.statuses import Action
from dossier.use_cases.access import Caller, ensure_one_owns
from dossier.use_cases.ports import Context
from dossier.use_cases.timers import NO_TIMERS, TimerDays, sync_timers, timer_days

log = structlog.get_logger(__name__)

SYSTEM = Actor("system", "dossier-timers")

Command = Callable[[Dossier, datetime], None]


async def submit(ctx: Context, caller: Caller, *, offer_id: UUID, session_id: UUID) -> Dossier:
    """R-DOS-2 then R-OFR-4: the élu's request, with every reason it is refused listed at once.

    The élu's row is locked first, so two requests of one élu are decided one after the other (overlap);
    the seat is taken by a conditional update, so a session is never filled beyond its seats.
    """
    assert caller.elu_id is not None
    elu = await ctx.repo.elu(caller.elu_id, for_update=True)
    offer = await ctx.repo.offer(offer_id)
    session = await ctx.repo.training_session(session_id)
    others = await ctx.repo.live_enrolments_of(caller.elu_id) if elu is not None else ()
    request = EnrolmentRequest(elu=elu, offer=offer, session=session, other_dossiers=others)
    dossier = Dossier.submit(uuid.uuid4(), request, actor=caller.actor, now=ctx.clock.now())
    assert offer is not None and session is not None
    if not await ctx.repo.take_seat(session.session_id, seats_of(offer, session)):
        raise RulesBroken([RuleBroken("R-DOS-2", "the session is full (R-OFR-4)", field="session_id")])
    await ctx.repo.add(dossier)
    await _publish(ctx, dossier, was_live=True, timers_before=NO_TIMERS)
    return dossier


async def read(ctx: Context, callers: list[Caller], dossier_id: UUID) -> Dossier:
    dossier = await ctx.repo.get(dossier_id)
    if dossier is None:
        raise NotFound(f"no dossier {dossier_id}")
    ensure_one_owns(callers, dossier)
    return dossier


async def act(
    ctx: Context, caller: Caller, dossier_id: UUID, command: Command, *, history: bool = True
) -> Dossier:
    """Load the dossier locked, check the caller owns it, run one domain command, save and publish.

    `history=False` when the caller answers without the dossier (a control): its history is not read."""
    dossier = await ctx.repo.get(dossier_id, for_update=True, history=history)
    if dossier is None:
        raise NotFound(f"no dossier {dossier_id}")
    caller.ensure_owns(dossier)
    was_live, timers_before = dossier.is_live, timer_days(dossier)
    command(dossier, ctx.clock.now())
    await ctx.repo.save(dossier)
    await _publish(ctx, dossier, was_live=was_live, timers_before=timers_before)
    return dossier


async def _publish(ctx: Context, dossier: Dossier, *, was_live: bool, timers_before: TimerDays) -> None:
    """The events the dossier recorded go to the outbox; a dossier leaving the live statuses frees its
    seat (R-OFR-4); its timers follow its new status (`timers_before`: those it had when loaded)."""
    if dossier.events:
        await ctx.outbox.add_many(list(dossier.events))
        dossier.events.clear()
    if was_live and not dossier.is_live:
        await ctx.repo.release_seat(dossier.session_id)
    await sync_timers(ctx.scheduler, dossier, before=timers_before)


# ---- the organisme -------------------------------------------------------------------------------------


async def validate(ctx: Context, caller: Caller, dossier_id: UUID) -> Dossier:
    return await act(ctx, caller, dossier_id, lambda d, now: d.validate(actor=caller.actor, now=now))


async def refuse_by_organisme(ctx: Context, caller: Caller, dossier_id: UUID, reason: str) -> Dossier:
    return await act(
        ctx,
        caller,
        dossier_id,
        lambda d, now: d.refuse_by_organisme(actor=caller.actor, now=now, reason=reason),
    )


async def declare_entry(ctx: Context, caller: Caller, dossier_id: UUID, entry_on: date) -> Dossier:
    return await act(
        ctx,
        caller,
        dossier_id,
        lambda d, now: d.declare_entry(actor=caller.actor, now=now, entry_on=entry_on),
    )


async def declare_exit(
    ctx: Context, caller: Caller, dossier_id: UUID, exit_on: date, hours_attended: Decimal
) -> Dossier:
    return await act(
        ctx,
        caller,
        dossier_id,
        lambda d, now: d.declare_exit(
            actor=caller.actor, now=now, exit_on=exit_on, hours_attended=hours_attended
        ),
    )


async def cancel_by_organisme(ctx: Context, caller: Caller, dossier_id: UUID, reason: str) -> Dossier:
    return await act(
        ctx,
        caller,
        dossier_id,
        lambda d, now: d.cancel_by_organisme(actor=caller.actor, now=now, reason=reason),
    )


async def declare_no_show(ctx: Context, caller: Caller, dossier_id: UUID, reason: str) -> Dossier:
    return await act(
        ctx, caller, dossier_id, lambda d, now: d.declare_no_show(actor=caller.actor, now=now, reason=reason)
    )


# ---- the élu -------------------------------------------------------------------------------------------


async def accept(ctx: Context, caller: Caller, dossier_id: UUID) -> Dossier:
    return await act(ctx, caller, dossier_id, lambda d, now: d.accept(actor=caller.actor, now=now))


async def refuse_by_elu(ctx: Context, caller: Caller, dossier_id: UUID, reason: str) -> Dossier:
    return await act(
        ctx, caller, dossier_id, lambda d, now: d.refuse_by_elu(actor=caller.actor, now=now, reason=reason)
    )


async def cancel_by_elu(
    ctx: Context, caller: Caller, dossier_id: UUID, reason: str, force_majeure: bool
) -> Dossier:
    return await act(
        ctx,
        caller,
        dossier_id,
        lambda d, now: d.cancel_by_elu(
            actor=caller.actor, now=now, reason=reason, force_majeure=force_majeure
        ),
    )


async def evaluate(ctx: Context, caller: Caller, dossier_id: UUID, rating: int, comment: str) -> Dossier:
    return await act(
        ctx,
        caller,
        dossier_id,
        lambda d, now: d.evaluate(actor=caller.actor, now=now, rating=rating, comment=comment),
    )


# ---- controls (R-DOS-4) --------------------------------------------------------------------------------


async def open_control(
    ctx: Context, caller: Caller, dossier_id: UUID, kind: ControlKind, reason: str
) -> Control:
    """R-DOS-4: only while service done awaits validation; the automatic validation is suspended."""
    control_id = uuid.uuid4()
    dossier = await act(
        ctx,
        caller,
        dossier_id,
        lambda d, now: d.open_control(control_id=control_id, actor=caller.actor, now=now, reason=reason),
        history=False,
    )
    control = Control(
        control_id=control_id,
        dossier_id=dossier.dossier_id,
        kind=kind,
        reason=reason,
        opened_by=caller.subject,
        opened_at=ctx.clock.now(),
    )
    await ctx.repo.add_control(control)
    return control


async def decide_control(
    ctx: Context, caller: Caller, control_id: UUID, outcome: ControlStatus, reason: str
) -> Control:
    """R-DOS-4: the control ends by validating the service done, or rejecting it."""
    control = await ctx.repo.get_control(control_id, for_update=True)
    if control is None:
        raise NotFound(f"no control {control_id}")
    control.decide(outcome=outcome, by=caller.subject, at=ctx.clock.now(), reason=reason)
    validated = outcome is ControlStatus.VALIDATED
    await act(
        ctx,
        caller,
        control.dossier_id,
        lambda d, now: d.decide_control(validated=validated, actor=caller.actor, now=now, reason=reason),
        history=False,
    )
    await ctx.repo.save_control(control)
    return control


# ---- timers --------------------------------------------------------------------------------------------


async def expire_if_due(ctx: Context, dossier_id: UUID) -> bool:
    """R-DOS-1 timer: expire the dossier if its deadline passed and it still waits; else nothing."""
    return await _timer(ctx, dossier_id, lambda d, now: d.expiry_due(now), Action.EXPIRE)


async def auto_validate_if_due(ctx: Context, dossier_id: UUID) -> bool:
    """R-DOS-4 timer: validate the service done if 5 working days passed without a control; else nothing."""
    return await _timer(
        ctx, dossier_id, lambda d, now: d.auto_validation_due(now), Action.VALIDATE_SERVICE_DONE
    )


async def _timer(
    ctx: Context, dossier_id: UUID, due: Callable[[Dossier, datetime], bool], action: Action
) -> bool:
    dossier = await ctx.repo.get(dossier_id, for_update=True, history=False)
    now = ctx.clock.now()
    if dossier is None or not dossier.allows(action) or not due(dossier, now):
        log.info("timer_without_effect", dossier_id=str(dossier_id), action=action.value)
        if dossier is not None:
            await sync_timers(ctx.scheduler, dossier)  # a timer fired early (clock skew): set it again
        return False
    was_live, timers_before = dossier.is_live, timer_days(dossier)
    if action is Action.EXPIRE:
        dossier.expire(actor=SYSTEM, now=now)
    else:
        dossier.validate_service_done_automatically(actor=SYSTEM, now=now)
    await ctx.repo.save(dossier)
    await _publish(ctx, dossier, was_live=was_live, timers_before=timers_before)
    return True


# ---- events of other contexts --------------------------------------------------------------------------


async def record_plan(ctx: Context, dossier_id: UUID, plan: FundingPlan) -> bool:
    """Funding's latest word on the plan; a failed plan cancels the dossier by the financer (R-DOS-5)."""
    dossier = await ctx.repo.get(dossier_id, for_update=True, history=False)
    if dossier is None or not dossier.is_live:
        log.info("plan_for_unknown_or_closed_dossier", dossier_id=str(dossier_id))
        return False
    was_live, timers_before = dossier.is_live, timer_days(dossier)
    dossier.record_plan(plan)
    if plan.status.value == "failed" and dossier.allows(Action.CANCEL_BY_FINANCER):
        dossier.cancel_by_financer(
            actor=Actor("financer", "funding"), now=ctx.clock.now(), reason=plan.reason or "plan failed"
        )
    await ctx.repo.save(dossier)
    await _publish(ctx, dossier, was_live=was_live, timers_before=timers_before)
    return True


async def mark_paid(ctx: Context, dossier_id: UUID, amount_cents: int, paid_on: date) -> bool:
    dossier = await ctx.repo.get(dossier_id, for_update=True, history=False)
    if dossier is None or not dossier.allows(Action.MARK_PAID):
        log.warning("payment_settled_for_a_dossier_not_awaiting_it", dossier_id=str(dossier_id))
        return False
    timers_before = timer_days(dossier)
    dossier.mark_paid(
        actor=Actor("payout", "payout"), now=ctx.clock.now(), amount_cents=amount_cents, paid_on=paid_on
    )
    await ctx.repo.save(dossier)
    await _publish(ctx, dossier, was_live=True, timers_before=timers_before)
    return True


async def cancel_session(ctx: Context, siret: str, session_id: UUID, reason: str) -> int:
    """A cancelled session cancels its dossiers still before the training, by the organisme (R-DOS-5)."""
    await ctx.repo.cancel_session(session_id)
    cancelled = 0
    for dossier_id in await ctx.repo.live_dossier_ids_of_session(session_id):
        dossier = await ctx.repo.get(dossier_id, for_update=True, history=False)
        if dossier is None or not dossier.allows(Action.CANCEL_BY_ORGANISME):
            continue
        timers_before = timer_days(dossier)
        dossier.cancel_by_organisme(
            actor=Actor("organisme", siret), now=ctx.clock.now(), reason=f"session cancelled: {reason}"
        )
        await ctx.repo.save(dossier)
        await _publish(ctx, dossier, was_live=True, timers_before=timers_before)
        cancelled += 1
    return cancelled


# ---- one path, two parties -----------------------------------------------------------------------------


def _party(callers: list[Caller], role: str, dossier: Dossier, action: Action) -> Caller:
    """The caller acting as `role` on its own dossier; a caller owning the dossier by another role is told
    it is not its turn (409 naming the status), anybody else is refused (403)."""
    for caller in callers:
        if caller.role == role and caller.owns(dossier):
            return caller
    if any(caller.owns(dossier) for caller in callers):
        raise InvalidTransition(
            current=dossier.status.value,
            wanted=action.value,
            allowed=[allowed.value for allowed in dossier.allowed_actions()],
        )
    raise Forbidden(f"only the {role} of this dossier may do this now")


async def refuse(ctx: Context, callers: list[Caller], dossier_id: UUID, reason: str) -> Dossier:
    """`/refusal`: the status says whose answer is awaited (the organisme's while submitted, the élu's
    while validated), and only that party, by its own ownership rule, may refuse."""
    dossier = await ctx.repo.get(dossier_id, history=False)
    if dossier is None:
        raise NotFound(f"no dossier {dossier_id}")
    if dossier.status is DossierStatus.VALIDATED:
        return await refuse_by_elu(
            ctx, _party(callers, "elu", dossier, Action.REFUSE_BY_ELU), dossier_id, reason
        )
    organisme = _party(callers, "organisme", dossier, Action.REFUSE_BY_ORGANISME)
    return await refuse_by_organisme(ctx, organisme, dossier_id, reason)


async def cancel(
    ctx: Context, callers: list[Caller], dossier_id: UUID, reason: str, force_majeure: bool
) -> Dossier:
    """`/cancellation`: by the organisme of the dossier if the token speaks for it, else by its élu."""
    dossier = await ctx.repo.get(dossier_id, history=False)
    if dossier is None:
        raise NotFound(f"no dossier {dossier_id}")
    organisme = next((c for c in callers if c.role == "organisme" and c.owns(dossier)), None)
    if organisme is not None:
        return await cancel_by_organisme(ctx, organisme, dossier_id, reason)
    elu = _party(callers, "elu", dossier, Action.CANCEL_BY_ELU)
    return await cancel_by_elu(ctx, elu, dossier_id, reason, force_majeure)
