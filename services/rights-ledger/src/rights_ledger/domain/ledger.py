"""The DIFE account as a double-entry ledger with two-phase holds (R-ACC-1/2, R-END-1, R-FUN-5, R-PAY-2).

Every movement is a transfer between the élu's account and a system account (the fund for a credit, training
for a capture, expiry, adjustment). The élu's account keeps two sums, as TigerBeetle does:
``balance`` (posted rights) and ``held`` (pending holds); ``available = balance − held``. The journal is
append-only and each entry carries its deltas, so ``balance = Σ balance_delta`` and ``held = Σ held_delta``.

A hold is pending, then either posted (captured, maybe partially: the rest is released in the same step) or
voided (released). It resolves at most once.

Each movement says what it refers to with typed references (the campaign of a credit, the hold and dossier of
a hold movement, the adjustment of an adjustment) and when it takes effect: ``value_date``, a Paris date,
beside ``at``, the instant it was recorded. Money is never moved with a value date after the Paris day of
its recording.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from uuid import UUID, uuid4

from dife_contracts.enums import HoldRejectionReason, TrainingPurpose
from dife_contracts.events import (
    AccountActivated,
    AccountAdjusted,
    DifeCaptureRequested,
    DifeHoldRequested,
    DifeReleaseRequested,
    HoldCaptured,
    HoldPlaced,
    HoldRejected,
    HoldReleased,
)
from dife_contracts.events.ledger import LedgerEvent
from servicekit.clock import paris_date
from servicekit.rules import Conflict, InvalidTransition, RuleBroken

from rights_ledger.domain.mandates import AccountStatus, Mandate, hold_rejection
from rights_ledger.domain.parameters import CampaignRef, RightsParameters, credit_amount


class MovementKind(enum.StrEnum):
    CREDIT = "credit"
    HOLD = "hold"
    CAPTURE = "capture"
    RELEASE = "release"
    EXPIRY = "expiry"
    ADJUSTMENT = "adjustment"


class Counterparty(enum.StrEnum):
    """The system account on the other side of each transfer (double entry)."""

    FUND = "fund"
    TRAINING = "training"
    EXPIRED = "expired"
    ADJUSTMENT = "adjustment"
    PENDING = "pending"


COUNTERPARTY: dict[MovementKind, Counterparty] = {
    MovementKind.CREDIT: Counterparty.FUND,
    MovementKind.HOLD: Counterparty.PENDING,
    MovementKind.CAPTURE: Counterparty.TRAINING,
    MovementKind.RELEASE: Counterparty.PENDING,
    MovementKind.EXPIRY: Counterparty.EXPIRED,
    MovementKind.ADJUSTMENT: Counterparty.ADJUSTMENT,
}


class HoldStatus(enum.StrEnum):
    PENDING = "pending"
    POSTED = "posted"
    VOIDED = "voided"


INSUFFICIENT_RIGHTS = "R-FUN-1"
"""The rule a hold larger than the available balance breaks (answered as ``hold_rejected``, not an error)."""

_REJECTION_DETAILS = {
    HoldRejectionReason.ACCOUNT_INACTIVE: "the account is not active (R-ACT-1)",
    HoldRejectionReason.NOT_ELIGIBLE: (
        "a {purpose} training on these dates is not eligible (R-END-1, R-DOS-2)"
    ),
}


@dataclass(frozen=True, slots=True)
class Movement:
    """One journal entry; ``amount_cents`` is its absolute size, the deltas its effect on the two sums.

    ``at`` is when it was recorded, ``value_date`` the Paris date it takes effect (never after ``at``'s Paris
    day); ``reference`` is the human label, the typed references say which campaign, hold, dossier or
    adjustment it belongs to (``None`` where one does not apply)."""

    id: UUID
    elu_id: UUID
    kind: MovementKind
    amount_cents: int
    balance_delta_cents: int
    held_delta_cents: int
    balance_after_cents: int
    held_after_cents: int
    at: datetime
    value_date: date
    reference: str | None = None
    hold_id: UUID | None = None
    dossier_id: UUID | None = None
    campaign: CampaignRef | None = None
    adjustment_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class References:
    """The typed references of one movement (only those that apply to its kind are set)."""

    reference: str | None = None
    hold_id: UUID | None = None
    dossier_id: UUID | None = None
    campaign: CampaignRef | None = None
    adjustment_id: UUID | None = None


@dataclass(frozen=True, slots=True)
class HoldTerms:
    """What a hold was placed for: the dossier and the training it finances (R-END-1)."""

    dossier_id: UUID
    purpose: TrainingPurpose
    training_start: date
    training_end: date


@dataclass(slots=True)
class Hold:
    hold_id: UUID
    elu_id: UUID
    amount_cents: int
    reference: str | None
    status: HoldStatus = HoldStatus.PENDING
    captured_cents: int = 0
    terms: HoldTerms | None = None


@dataclass(frozen=True, slots=True)
class HoldResolution:
    """The one resolution of a hold (posted or voided), with what it gave back."""

    hold: Hold
    released_cents: int
    at: datetime


@dataclass(frozen=True, slots=True)
class ActivationRevoked:
    """R-ACT-1: an agent unlinked a wrongly activated account (audited: who, why, which login it had)."""

    elu_id: UUID
    subject: str
    reason: str
    by: str
    at: datetime


def _of_hold(hold: Hold) -> References:
    """The references of a hold's movements: the hold and the dossier it finances."""
    return References(
        reference=hold.reference,
        hold_id=hold.hold_id,
        dossier_id=hold.terms.dossier_id if hold.terms is not None else None,
    )


def hold_rejected_without_account(request: DifeHoldRequested) -> HoldRejected:
    """R-ACT-1: an élu without an account has nothing to hold."""
    return HoldRejected(
        elu_id=request.elu_id,
        dossier_id=request.dossier_id,
        requested_cents=request.amount_cents,
        available_cents=0,
        reason=HoldRejectionReason.ACCOUNT_INACTIVE,
        detail="no DIFE account for this élu (R-ACT-1)",
    )


@dataclass(slots=True)
class Account:
    """One élu's account; operations append to ``journal`` the movements they make and return them, and to
    ``events`` the events they imply; ``placed`` and ``resolved`` list the holds created and resolved. The
    repository saves all of it in one transaction."""

    elu_id: UUID
    status: AccountStatus = AccountStatus.INACTIVE
    balance_cents: int = 0
    held_cents: int = 0
    cap_cents: int = 80_000
    subject: str | None = None
    nir_hash: str | None = None
    activated_at: datetime | None = None
    journal: list[Movement] = field(default_factory=list)
    events: list[LedgerEvent] = field(default_factory=list)
    placed: list[Hold] = field(default_factory=list)
    resolved: list[HoldResolution] = field(default_factory=list)
    revocations: list[ActivationRevoked] = field(default_factory=list)

    @property
    def available_cents(self) -> int:
        return self.balance_cents - self.held_cents

    def _record(
        self,
        kind: MovementKind,
        amount_cents: int,
        balance_delta: int,
        held_delta: int,
        at: datetime,
        references: References,
        value_date: date | None = None,
    ) -> Movement:
        """Append one movement; its value date is ``at``'s Paris day unless an earlier one is given (a
        campaign's date, an expiry's ``as_of``); a later one would move money ahead of time: refused."""
        recorded_on = paris_date(at)
        if value_date is None:
            value_date = recorded_on
        if value_date > recorded_on:
            raise AssertionError(
                f"ledger invariant broken: value date {value_date.isoformat()} after the day of recording "
                f"{recorded_on.isoformat()}"
            )
        self.balance_cents += balance_delta
        self.held_cents += held_delta
        if self.balance_cents < 0 or self.held_cents < 0 or self.held_cents > self.balance_cents:
            raise AssertionError("ledger invariant broken: 0 ≤ held ≤ balance")
        movement = Movement(
            id=uuid4(),
            elu_id=self.elu_id,
            kind=kind,
            amount_cents=amount_cents,
            balance_delta_cents=balance_delta,
            held_delta_cents=held_delta,
            balance_after_cents=self.balance_cents,
            held_after_cents=self.held_cents,
            at=at,
            value_date=value_date,
            reference=references.reference,
            hold_id=references.hold_id,
            dossier_id=references.dossier_id,
            campaign=references.campaign,
            adjustment_id=references.adjustment_id,
        )
        self.journal.append(movement)
        return movement

    def credit(
        self, parameters: RightsParameters, at: datetime, reference: str, *, campaign: CampaignRef, on: date
    ) -> Movement | None:
        """R-ACC-1/R-ACC-2: credit ``min(yearly, cap − balance)``; None when the cap leaves nothing.
        R-ACC-3: the credit takes effect on the campaign's date ``on`` (its value date)."""
        amount = credit_amount(self.balance_cents, parameters)
        if amount == 0:
            return None
        self.cap_cents = parameters.cap_cents
        references = References(reference=reference, campaign=campaign)
        return self._record(MovementKind.CREDIT, amount, amount, 0, at, references, value_date=on)

    def place_hold(self, hold: Hold, at: datetime) -> Movement:
        """R-FUN-1/R-FUN-5: reserve ``hold.amount_cents`` out of the available balance, or refuse."""
        if hold.amount_cents <= 0:
            raise RuleBroken("R-FUN-5", "a hold is for a positive amount")
        if hold.amount_cents > self.available_cents:
            raise RuleBroken(
                INSUFFICIENT_RIGHTS,
                f"hold of {hold.amount_cents} cents exceeds the available {self.available_cents} cents",
            )
        return self._record(MovementKind.HOLD, hold.amount_cents, 0, hold.amount_cents, at, _of_hold(hold))

    def capture(self, hold: Hold, amount_cents: int, at: datetime) -> list[Movement]:
        """R-PAY-2: post ``amount_cents`` of a pending hold and release the rest, in one resolution."""
        self._ensure_pending(hold, "capture")
        if not 0 <= amount_cents <= hold.amount_cents:
            raise RuleBroken("R-PAY-2", f"capture of {amount_cents} cents outside 0..{hold.amount_cents}")
        movements: list[Movement] = []
        if amount_cents > 0:
            movements.append(
                self._record(
                    MovementKind.CAPTURE, amount_cents, -amount_cents, -amount_cents, at, _of_hold(hold)
                )
            )
        rest = hold.amount_cents - amount_cents
        if rest > 0:
            movements.append(self._record(MovementKind.RELEASE, rest, 0, -rest, at, _of_hold(hold)))
        hold.status = HoldStatus.POSTED
        hold.captured_cents = amount_cents
        return movements

    def release(self, hold: Hold, at: datetime) -> Movement:
        """R-DOS-5 / R-FUN-5: void a pending hold: everything reserved comes back."""
        self._ensure_pending(hold, "release")
        movement = self._record(
            MovementKind.RELEASE, hold.amount_cents, 0, -hold.amount_cents, at, _of_hold(hold)
        )
        hold.status = HoldStatus.VOIDED
        return movement

    def expire(self, at: datetime, reference: str, *, as_of: date) -> Movement | None:
        """R-END-1: the available balance expires as an explicit movement (held rights stay held), with the
        run's ``as_of`` as its value date."""
        amount = self.available_cents
        if amount <= 0:
            return None
        return self._record(
            MovementKind.EXPIRY, amount, -amount, 0, at, References(reference=reference), value_date=as_of
        )

    def adjust(self, amount_cents: int, cap_cents: int, at: datetime, reason: str) -> Movement:
        """Audited correction by an agent: never below the held rights (so ≥ 0), never above the cap."""
        if amount_cents == 0:
            raise RuleBroken("R-ACC-2", "an adjustment moves a non-zero amount")
        after = self.balance_cents + amount_cents
        if after < self.held_cents:
            raise RuleBroken(
                "R-ACC-2",
                f"the adjustment would take the balance to {after} cents, below 0 or below the holds",
            )
        if amount_cents > 0 and after > cap_cents:
            raise RuleBroken(
                "R-ACC-2", f"the adjustment would take the balance to {after} cents, above the cap"
            )
        if amount_cents > 0:
            self.cap_cents = cap_cents
        references = References(reference=reason, adjustment_id=uuid4())
        return self._record(MovementKind.ADJUSTMENT, abs(amount_cents), amount_cents, 0, at, references)

    @staticmethod
    def _ensure_pending(hold: Hold, wanted: str) -> None:
        if hold.status is not HoldStatus.PENDING:
            raise InvalidTransition(current=hold.status.value, wanted=wanted, allowed=(), rule_id="R-FUN-5")

    # Operations that answer a request and record the event they imply beside their movements.

    def answer_hold_request(
        self,
        request: DifeHoldRequested,
        *,
        hold_id: UUID,
        mandates: Sequence[Mandate],
        pension_liquidated_on: date | None,
        at: datetime,
    ) -> Hold | None:
        """R-FUN-1 / R-END-1: place the hold a plan asks for, or record why not (``hold_rejected``)."""
        rejection = hold_rejection(
            purpose=request.purpose,
            training_start=request.training_start,
            training_end=request.training_end,
            mandates=mandates,
            pension_liquidated_on=pension_liquidated_on,
            account_status=self.status,
        )
        if rejection is not None:
            detail = _REJECTION_DETAILS.get(rejection, str(rejection)).format(purpose=request.purpose)
            self._reject(request, rejection, detail)
            return None
        terms = HoldTerms(request.dossier_id, request.purpose, request.training_start, request.training_end)
        hold = Hold(hold_id, self.elu_id, request.amount_cents, str(request.dossier_id), terms=terms)
        try:
            self.place_hold(hold, at)
        except RuleBroken as broken:
            reason = (
                HoldRejectionReason.INSUFFICIENT_RIGHTS
                if broken.rule_id == INSUFFICIENT_RIGHTS
                else HoldRejectionReason.NOT_ELIGIBLE
            )
            self._reject(request, reason, f"{broken.message} ({broken.rule_id})")
            return None
        self.placed.append(hold)
        self.answer_again(hold)
        return hold

    def answer_again(self, hold: Hold) -> None:
        """R-FUN-5: a second request for a dossier that already holds rights gets the same answer."""
        if hold.terms is None:
            raise ValueError("a hold answered to funding has its terms")
        self.events.append(
            HoldPlaced(
                elu_id=self.elu_id,
                hold_id=hold.hold_id,
                dossier_id=hold.terms.dossier_id,
                amount_cents=hold.amount_cents,
                available_after_cents=self.available_cents,
            )
        )

    def _reject(self, request: DifeHoldRequested, reason: HoldRejectionReason, detail: str) -> None:
        self.events.append(
            HoldRejected(
                elu_id=request.elu_id,
                dossier_id=request.dossier_id,
                requested_cents=request.amount_cents,
                available_cents=max(self.available_cents, 0),
                reason=reason,
                detail=detail,
            )
        )

    def capture_requested(self, hold: Hold, request: DifeCaptureRequested, at: datetime) -> None:
        """R-PAY-2: spend part of a dossier's hold, release the rest, in one resolution."""
        self._ensure_same_elu(hold, "capture")
        if request.amount_cents > hold.amount_cents:
            raise RuleBroken(
                "R-PAY-2",
                f"capture of {request.amount_cents} cents exceeds the hold of {hold.amount_cents}",
            )
        self.capture(hold, request.amount_cents, at)
        released = hold.amount_cents - request.amount_cents
        self.resolved.append(HoldResolution(hold, released, at))
        self.events.append(
            HoldCaptured(
                elu_id=self.elu_id,
                hold_id=hold.hold_id,
                dossier_id=request.dossier_id,
                captured_cents=request.amount_cents,
                released_cents=released,
            )
        )

    def release_requested(self, hold: Hold, request: DifeReleaseRequested, at: datetime) -> None:
        """R-DOS-5 / R-FUN-5: give a dossier's pending hold back whole."""
        self._ensure_same_elu(hold, "release")
        self.release(hold, at)
        self.resolved.append(HoldResolution(hold, hold.amount_cents, at))
        self.events.append(
            HoldReleased(
                elu_id=self.elu_id,
                hold_id=hold.hold_id,
                dossier_id=request.dossier_id,
                released_cents=hold.amount_cents,
                reason=request.reason,
            )
        )

    def _ensure_same_elu(self, hold: Hold, wanted: str) -> None:
        if hold.elu_id != self.elu_id:
            raise Conflict(f"{wanted} requested for a hold of another élu", rule_id="R-FUN-5")

    def adjust_by_agent(
        self, amount_cents: int, cap_cents: int, at: datetime, reason: str, *, by: str
    ) -> Movement:
        """R-ACC-2: an audited correction, published as ``account_adjusted``."""
        movement = self.adjust(amount_cents, cap_cents, at, reason)
        self.events.append(
            AccountAdjusted(
                elu_id=self.elu_id,
                amount_cents=amount_cents,
                reason=reason,
                balance_after_cents=self.balance_cents,
                by=by,
                adjustment_id=movement.adjustment_id,
                value_date=movement.value_date,
            )
        )
        return movement

    def activate(self, *, subject: str, nir_hash: str, at: datetime) -> bool:
        """R-ACT-1: link the account to one login and one NIR; True when this call activated it.

        Activating again with the same login and NIR changes nothing; anyone else gets a conflict.
        """
        if self.status is AccountStatus.ACTIVE:
            if self.subject == subject and self.nir_hash == nir_hash:
                return False
            raise Conflict("this account is already activated", rule_id="R-ACT-1")
        self.status = AccountStatus.ACTIVE
        self.subject = subject
        self.nir_hash = nir_hash
        self.activated_at = at
        self.events.append(AccountActivated(elu_id=self.elu_id, activated_at=at))
        return True

    def revoke_activation(self, *, reason: str, by: str, at: datetime) -> None:
        """R-ACT-1: give a wrongly linked account back: the login and the NIR are unlinked, the rights stay,
        and the élu can activate again. Audited with its reason."""
        if self.subject is None:
            raise InvalidTransition(
                current=self.status.value,
                wanted="revoke the activation",
                allowed=("activate",),
                rule_id="R-ACT-1",
            )
        self.revocations.append(ActivationRevoked(self.elu_id, self.subject, reason, by, at))
        if self.status is AccountStatus.ACTIVE:
            self.status = AccountStatus.INACTIVE
        self.subject = None
        self.nir_hash = None
        self.activated_at = None
