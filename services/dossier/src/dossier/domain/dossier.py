"""The training dossier aggregate: from the élu's request to the payment (DOMAIN.md §3).

Each command checks its rule, moves the status through the table of `statuses.TRANSITIONS`, stores the
transition (who, when, why, which event) in `history` and appends the event it implies to `events`; the
use case saves the dossier and writes `events` to the outbox in one transaction.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum
from uuid import UUID

from dife_contracts import Event
from dife_contracts.enums import CancelledBy, DossierStatus, TrainingPurpose
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
from servicekit.clock import paris_date
from servicekit.rules import Checks, Conflict, RuleBroken

from dossier.domain import deadlines
from dossier.domain.eligibility import EnrolmentRequest, check_eligibility
from dossier.domain.statuses import FINANCED_STATUSES, LIVE_STATUSES, Action, allowed_actions, next_status

S = DossierStatus


@dataclass(frozen=True)
class Actor:
    """Who made a transition: a role (elu, organisme, agent, system, financer, catalogue…) and its subject."""

    role: str
    subject: str


@dataclass(frozen=True)
class Transition:
    """One stored step of the dossier's history."""

    at: datetime
    action: Action
    from_status: DossierStatus | None
    to_status: DossierStatus
    actor: Actor
    reason: str | None = None
    event_type: str | None = None


class PlanStatus(StrEnum):
    PROPOSED = "proposed"
    READY = "ready"
    FAILED = "failed"


@dataclass(frozen=True)
class PlanLineView:
    source: str
    amount_cents: int
    reference: str | None = None


@dataclass(frozen=True)
class FundingPlan:
    """The funding plan as funding last published it."""

    status: PlanStatus
    lines: tuple[PlanLineView, ...] = ()
    reason: str | None = None
    at: datetime | None = None


@dataclass(frozen=True)
class Evaluation:
    rating: int
    comment: str
    at: datetime


def realisation_percent(hours_attended: Decimal, hours_planned: Decimal) -> int:
    """R-DOS-3: taux de réalisation = hours attended ÷ hours planned × 100, rounded DOWN to an integer.

    Rounding down means 100 % only when every planned hour was attended (6.99 h of 7 h is 99 %), so an
    organisme is never paid for time that did not happen (R-PAY-1 then rounds the amount half up, once).
    """
    if hours_planned <= 0:
        raise ValueError("a training plans a positive number of hours")
    if hours_attended < 0 or hours_attended > hours_planned:
        raise RuleBroken(
            "R-DOS-3",
            f"hours attended must be between 0 and the {hours_planned} hours planned",
            field="hours_attended",
        )
    return int((hours_attended * 100 / hours_planned).to_integral_value(rounding=ROUND_FLOOR))


def rights_consumed(*, today: date, training_start: date, force_majeure: bool) -> bool:
    """R-DOS-5 for an élu's cancellation: MORE than 7 working days before the start gives the rights back;
    7 or fewer (or a no-show) consumes them, unless force majeure."""
    if deadlines.working_days_before(today, training_start) > deadlines.FREE_CANCELLATION_WORKING_DAYS:
        return False
    return not force_majeure


@dataclass
class Dossier:
    dossier_id: UUID
    elu_id: UUID
    offer_id: UUID
    session_id: UUID
    siret: str
    purpose: TrainingPurpose
    price_cents: int
    hours: Decimal
    training_start: date
    training_end: date
    offer_title: str
    theme_code: str | None
    organisme_name: str | None
    department: str | None
    status: DossierStatus
    submitted_at: datetime
    answer_by: date
    accept_by: date | None = None
    entry_on: date | None = None
    entry_declared_late: bool = False
    exit_on: date | None = None
    exit_declared_late: bool = False
    hours_attended: Decimal | None = None
    realisation_percent: int | None = None
    service_done_declared_on: date | None = None
    auto_validation_on: date | None = None
    open_control_id: UUID | None = None
    plan: FundingPlan | None = None
    evaluation: Evaluation | None = None
    rights_consumed: bool | None = None
    amount_paid_cents: int = 0
    history: list[Transition] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    new_history: list[Transition] = field(default_factory=list)

    # ---- creation -------------------------------------------------------------------------------------

    @classmethod
    def submit(cls, dossier_id: UUID, request: EnrolmentRequest, *, actor: Actor, now: datetime) -> Dossier:
        """R-DOS-2: a request is created only when every eligibility rule holds; R-DOS-1 starts its clock."""
        today = paris_date(now)
        check_eligibility(request, today).raise_if_any()
        elu, offer, session = request.elu, request.offer, request.session
        assert elu is not None and offer is not None and session is not None
        dossier = cls(
            dossier_id=dossier_id,
            elu_id=elu.elu_id,
            offer_id=offer.offer_id,
            session_id=session.session_id,
            siret=offer.siret,
            purpose=offer.kind,
            price_cents=offer.price_cents,
            hours=offer.hours,
            training_start=session.start,
            training_end=session.end,
            offer_title=offer.title,
            theme_code=offer.theme_code,
            organisme_name=offer.organisme_name,
            department=offer.department,
            status=S.SUBMITTED,
            submitted_at=now,
            answer_by=deadlines.answer_by(today),
        )
        event = DossierSubmitted(
            dossier_id=dossier_id,
            elu_id=dossier.elu_id,
            offer_id=dossier.offer_id,
            session_id=dossier.session_id,
            siret=dossier.siret,
            purpose=dossier.purpose,
            price_cents=dossier.price_cents,
            training_start=dossier.training_start,
            training_end=dossier.training_end,
            submitted_at=now,
            answer_deadline=dossier.answer_by,
        )
        dossier._record(None, S.SUBMITTED, Action.SUBMIT, actor, now, None, event)
        return dossier

    # ---- the organisme answers (R-DOS-1) -------------------------------------------------------------

    def validate(self, *, actor: Actor, now: datetime) -> None:
        """R-DOS-1: the organisme's proposal, by the end of the 2nd working day after the submission."""
        self._ensure_allowed(Action.VALIDATE)
        self._ensure_answer_in_time(now)
        validated_on = paris_date(now)
        self.accept_by = deadlines.accept_by(validated_on)
        self._move(
            Action.VALIDATE,
            actor,
            now,
            None,
            DossierValidated(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                offer_id=self.offer_id,
                session_id=self.session_id,
                siret=self.siret,
                purpose=self.purpose,
                price_cents=self.price_cents,
                hours=self.hours,
                training_start=self.training_start,
                training_end=self.training_end,
                validated_at=now,
                answer_deadline=self.accept_by,
                theme_code=self.theme_code,
            ),
        )

    def refuse_by_organisme(self, *, actor: Actor, now: datetime, reason: str) -> None:
        """R-DOS-1: a refusal is an answer too, due by the same deadline."""
        self._ensure_allowed(Action.REFUSE_BY_ORGANISME)
        self._ensure_answer_in_time(now)
        self._move(
            Action.REFUSE_BY_ORGANISME,
            actor,
            now,
            reason,
            DossierRefused(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                by=S.REFUSED_BY_ORGANISME,
                reason=reason,
                refused_at=now,
            ),
        )

    def _ensure_answer_in_time(self, now: datetime) -> None:
        if deadlines.passed(self.answer_by, now):
            raise RuleBroken(
                "R-DOS-1",
                f"the organisme had to answer by the end of {self.answer_by} (2 working days)",
            )

    # ---- the élu answers (R-DOS-1) -------------------------------------------------------------------

    def accept(self, *, actor: Actor, now: datetime) -> None:
        """R-DOS-1: the élu accepts by the end of the 4th working day after validation, once funded."""
        self._ensure_allowed(Action.ACCEPT)
        checks = Checks()
        if self.accept_by is not None and deadlines.passed(self.accept_by, now):
            checks.fail("R-DOS-1", f"the proposal had to be accepted by the end of {self.accept_by}")
        if self.plan is None or self.plan.status is not PlanStatus.READY:
            checks.fail("R-FUN-4", "the funding plan is not secured yet (funding has not said plan_ready)")
        checks.raise_if_any()
        self._move(
            Action.ACCEPT,
            actor,
            now,
            None,
            DossierAccepted(dossier_id=self.dossier_id, elu_id=self.elu_id, accepted_at=now),
        )

    def refuse_by_elu(self, *, actor: Actor, now: datetime, reason: str) -> None:
        self._ensure_allowed(Action.REFUSE_BY_ELU)
        self._move(
            Action.REFUSE_BY_ELU,
            actor,
            now,
            reason,
            DossierRefused(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                by=S.REFUSED_BY_ELU,
                reason=reason,
                refused_at=now,
            ),
        )

    # ---- deadlines (timers) --------------------------------------------------------------------------

    def expiry_due(self, now: datetime) -> bool:
        """R-DOS-1: the organisme (submitted) or the élu (validated) let the deadline pass."""
        if self.status is S.SUBMITTED:
            return deadlines.passed(self.answer_by, now)
        if self.status is S.VALIDATED and self.accept_by is not None:
            return deadlines.passed(self.accept_by, now)
        return False

    def expire(self, *, actor: Actor, now: datetime) -> None:
        """R-DOS-1: no answer by the end of the deadline day: the dossier expires."""
        self._ensure_allowed(Action.EXPIRE)
        if not self.expiry_due(now):
            raise RuleBroken("R-DOS-1", "the answer deadline has not passed yet")
        expired_status = self.status
        assert expired_status in (S.SUBMITTED, S.VALIDATED)
        self._move(
            Action.EXPIRE,
            actor,
            now,
            "R-DOS-1: no answer in time",
            DossierExpired(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                expired_status=expired_status,
                expired_at=now,
            ),
        )

    # ---- cancellations (R-DOS-5) ---------------------------------------------------------------------

    def cancel_by_elu(self, *, actor: Actor, now: datetime, reason: str, force_majeure: bool) -> None:
        """R-DOS-5: rights are consumed only once the élu accepted (a plan is committed) and cancels 7 or
        fewer working days before the start without force majeure; a mere request costs nothing."""
        self._ensure_allowed(Action.CANCEL_BY_ELU)
        consumed = self.status is S.ACCEPTED and rights_consumed(
            today=paris_date(now), training_start=self.training_start, force_majeure=force_majeure
        )
        self._cancel(Action.CANCEL_BY_ELU, CancelledBy.ELU, actor, now, reason, force_majeure, consumed)

    def declare_no_show(self, *, actor: Actor, now: datetime, reason: str) -> None:
        """R-DOS-5: the élu did not come (declared by the organisme once the start has come): rights
        consumed, as for a late cancellation without force majeure."""
        self._ensure_allowed(Action.DECLARE_NO_SHOW)
        if paris_date(now) < self.training_start:
            raise RuleBroken("R-DOS-5", "a no-show is declared on or after the start date", field="date")
        self._cancel(Action.DECLARE_NO_SHOW, CancelledBy.ELU, actor, now, reason, False, True)

    def cancel_by_organisme(self, *, actor: Actor, now: datetime, reason: str) -> None:
        """R-DOS-5: cancelled by the organisme: the rights come back in full."""
        self._ensure_allowed(Action.CANCEL_BY_ORGANISME)
        self._cancel(Action.CANCEL_BY_ORGANISME, CancelledBy.ORGANISME, actor, now, reason, False, False)

    def cancel_by_financer(self, *, actor: Actor, now: datetime, reason: str) -> None:
        """R-DOS-5: cancelled by the financer (the plan failed): the rights come back in full."""
        self._ensure_allowed(Action.CANCEL_BY_FINANCER)
        self._cancel(Action.CANCEL_BY_FINANCER, CancelledBy.FINANCER, actor, now, reason, False, False)

    def _cancel(
        self,
        action: Action,
        by: CancelledBy,
        actor: Actor,
        now: datetime,
        reason: str,
        force_majeure: bool,
        consumed: bool,
    ) -> None:
        self.rights_consumed = consumed
        self._move(
            action,
            actor,
            now,
            reason,
            DossierCancelled(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                by=by,
                reason=reason,
                force_majeure=force_majeure,
                rights_consumed=consumed,
                cancelled_at=now,
            ),
        )

    # ---- the training (R-DOS-3) ----------------------------------------------------------------------

    def declare_entry(self, *, actor: Actor, now: datetime, entry_on: date) -> None:
        """R-DOS-3: entry declared within 3 working days; a late declaration is accepted but flagged."""
        self._ensure_allowed(Action.DECLARE_ENTRY)
        today = paris_date(now)
        checks = Checks()
        if entry_on > today:
            checks.fail("R-DOS-3", "an entry cannot be declared before it happens", field="date")
        if not self.training_start <= entry_on <= self.training_end:
            checks.fail(
                "R-DOS-3",
                f"the entry must be within the session ({self.training_start} to {self.training_end})",
                field="date",
            )
        checks.raise_if_any()
        self.entry_on = entry_on
        self.entry_declared_late = today > deadlines.declare_by(entry_on)
        self._move(
            Action.DECLARE_ENTRY,
            actor,
            now,
            "declared late (R-DOS-3)" if self.entry_declared_late else None,
            TrainingStarted(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                started_on=entry_on,
                declared_late=self.entry_declared_late,
            ),
        )

    def declare_exit(self, *, actor: Actor, now: datetime, exit_on: date, hours_attended: Decimal) -> None:
        """R-DOS-3: the exit with the taux de réalisation, then service done declared (R-DOS-4 starts)."""
        self._ensure_allowed(Action.DECLARE_EXIT)
        today = paris_date(now)
        checks = Checks()
        assert self.entry_on is not None
        if exit_on > today:
            checks.fail("R-DOS-3", "an exit cannot be declared before it happens", field="date")
        if exit_on < self.entry_on:
            checks.fail("R-DOS-3", f"the exit cannot precede the entry ({self.entry_on})", field="date")
        try:
            percent = realisation_percent(hours_attended, self.hours)
        except RuleBroken as broken:
            checks.extend([broken])
        checks.raise_if_any()
        self.exit_on, self.hours_attended, self.realisation_percent = exit_on, hours_attended, percent
        self.exit_declared_late = today > deadlines.declare_by(exit_on)
        self._move(
            Action.DECLARE_EXIT,
            actor,
            now,
            "declared late (R-DOS-3)" if self.exit_declared_late else None,
            TrainingCompleted(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                completed_on=exit_on,
                realisation_percent=percent,
                declared_late=self.exit_declared_late,
            ),
        )
        self.service_done_declared_on = today
        self.auto_validation_on = deadlines.auto_validation_on(today)
        self._move(
            Action.DECLARE_SERVICE_DONE,
            actor,
            now,
            None,
            ServiceDoneDeclared(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                declared_on=today,
                realisation_percent=percent,
            ),
        )

    # ---- service done (R-DOS-4) ----------------------------------------------------------------------

    def open_control(self, *, control_id: UUID, actor: Actor, now: datetime, reason: str) -> None:
        """R-DOS-4: an agent's control suspends the automatic validation until it is decided."""
        self._ensure_allowed(Action.OPEN_CONTROL)
        if self.open_control_id is not None:
            raise Conflict(
                f"control {self.open_control_id} is already open on this dossier", rule_id="R-DOS-4"
            )
        self.open_control_id = control_id
        self._move(Action.OPEN_CONTROL, actor, now, reason, None)

    def auto_validation_due(self, now: datetime) -> bool:
        """R-DOS-4: the 5th working day after the declaration is over and no control is open."""
        return (
            self.status is S.SERVICE_DONE_DECLARED
            and self.open_control_id is None
            and self.auto_validation_on is not None
            and deadlines.passed(self.auto_validation_on, now)
        )

    def validate_service_done_automatically(self, *, actor: Actor, now: datetime) -> None:
        """R-DOS-4: validated at the end of the 5th working day after its declaration, unless controlled."""
        self._ensure_allowed(Action.VALIDATE_SERVICE_DONE)
        if not self.auto_validation_due(now):
            raise RuleBroken("R-DOS-4", "not due: the delay is running or a control is open")
        self._validate_service_done(actor, now, "R-DOS-4: validated automatically")

    def decide_control(self, *, validated: bool, actor: Actor, now: datetime, reason: str) -> None:
        """R-DOS-4: a control ends by validating the service done, or rejecting it (the financer cancels:
        nothing is paid and the élu's rights come back, R-DOS-5)."""
        if self.open_control_id is None:
            raise Conflict("no control is open on this dossier", rule_id="R-DOS-4")
        action = Action.VALIDATE_SERVICE_DONE if validated else Action.REJECT_SERVICE_DONE
        self._ensure_allowed(action)
        self.open_control_id = None
        if validated:
            self._validate_service_done(actor, now, reason)
        else:
            self._cancel(action, CancelledBy.FINANCER, actor, now, reason, False, False)

    def _validate_service_done(self, actor: Actor, now: datetime, reason: str) -> None:
        assert self.realisation_percent is not None
        self._move(
            Action.VALIDATE_SERVICE_DONE,
            actor,
            now,
            reason,
            ServiceDoneValidated(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                validated_on=paris_date(now),
                realisation_percent=self.realisation_percent,
                price_cents=self.price_cents,
                siret=self.siret,
            ),
        )

    def mark_paid(self, *, actor: Actor, now: datetime, amount_cents: int, paid_on: date) -> None:
        self._ensure_allowed(Action.MARK_PAID)
        self.amount_paid_cents += amount_cents
        self._move(
            Action.MARK_PAID,
            actor,
            now,
            None,
            DossierPaid(
                dossier_id=self.dossier_id, elu_id=self.elu_id, paid_on=paid_on, amount_cents=amount_cents
            ),
        )

    # ---- evaluation (R-DOS-6) ------------------------------------------------------------------------

    def evaluate(self, *, actor: Actor, now: datetime, rating: int, comment: str) -> None:
        """R-DOS-6: once, after the training is completed; rating 1 to 5."""
        self._ensure_allowed(Action.EVALUATE)
        if self.evaluation is not None:
            raise Conflict("the training was already evaluated (once only)", rule_id="R-DOS-6")
        if not 1 <= rating <= 5:
            raise RuleBroken("R-DOS-6", "the rating is from 1 to 5", field="rating")
        self.evaluation = Evaluation(rating=rating, comment=comment, at=now)
        self._move(
            Action.EVALUATE,
            actor,
            now,
            None,
            DossierEvaluated(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                offer_id=self.offer_id,
                siret=self.siret,
                rating=rating,
                comment=comment,
            ),
        )

    # ---- funding plan (not a transition: what funding last said) ------------------------------------

    def record_plan(self, plan: FundingPlan) -> None:
        self.plan = plan

    # ---- views ---------------------------------------------------------------------------------------

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES

    @property
    def is_financed(self) -> bool:
        return self.status in FINANCED_STATUSES

    def allowed_actions(self) -> tuple[Action, ...]:
        return allowed_actions(self.status)

    def allows(self, action: Action) -> bool:
        return action in self.allowed_actions()

    def running_deadlines(self) -> dict[str, date]:
        """The deadlines that matter in the current status (R-DOS-1, R-DOS-3, R-DOS-4)."""
        running: dict[str, date] = {}
        if self.status is S.SUBMITTED:
            running["answer_by"] = self.answer_by
        elif self.status is S.VALIDATED and self.accept_by is not None:
            running["accept_by"] = self.accept_by
        elif self.status is S.ACCEPTED:
            running["declare_entry_by"] = deadlines.declare_by(self.training_start)
        elif self.status is S.IN_TRAINING:
            running["declare_exit_by"] = deadlines.declare_by(self.training_end)
        elif (
            self.status is S.SERVICE_DONE_DECLARED
            and self.open_control_id is None
            and self.auto_validation_on is not None
        ):
            running["auto_validation_on"] = self.auto_validation_on
        return running

    # ---- internals -----------------------------------------------------------------------------------

    def _ensure_allowed(self, action: Action) -> None:
        next_status(self.status, action)

    def _move(
        self, action: Action, actor: Actor, now: datetime, reason: str | None, event: Event | None
    ) -> None:
        before = self.status
        self.status = next_status(before, action)
        self._record(before, self.status, action, actor, now, reason, event)

    def _record(
        self,
        before: DossierStatus | None,
        after: DossierStatus,
        action: Action,
        actor: Actor,
        now: datetime,
        reason: str | None,
        event: Event | None,
    ) -> None:
        step = Transition(
            at=now,
            action=action,
            from_status=before,
            to_status=after,
            actor=actor,
            reason=reason,
            event_type=event.ce_type if event is not None else None,
        )
        self.history.append(step)
        self.new_history.append(step)
        if event is not None:
            self.events.append(event)
