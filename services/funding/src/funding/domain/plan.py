"""The funding plan of one dossier: lines in the legal order that sum to the price (R-FUN-1…5).

`compute_lines` is the one place where the order is decided; `FundingPlan` is the aggregate that keeps
the lines secured, recomputes them when a source gives less than asked, and records the events of
each step.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum
from uuid import UUID, uuid4

from dife_contracts.enums import FundingSource, HoldRejectionReason, TrainingPurpose
from dife_contracts.event import Event
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
from dife_contracts.events import PlanLine as ContractLine
from servicekit.rules import Conflict, InvalidTransition, RuleBroken

from funding.domain.policy import (
    MAX_HOLD_ATTEMPTS,
    CardOnConsumedExit,
    CofundingOnConsumedExit,
    ConsumedExitPolicy,
    SettlementPolicy,
    UnusedTopUpOnSettlement,
)


class PlanStatus(StrEnum):
    PROPOSED = "proposed"
    READY = "ready"
    FAILED = "failed"
    CLOSED = "closed"


class LineStatus(StrEnum):
    """`pending`: asked, not yet secured; `secured`: the source committed; then how the line ended."""

    PENDING = "pending"
    SECURED = "secured"
    RELEASED = "released"
    CONSUMED = "consumed"
    REFUNDED = "refunded"


ENDED = frozenset({LineStatus.RELEASED, LineStatus.CONSUMED, LineStatus.REFUNDED})


@dataclass(frozen=True)
class TopUpCapacity:
    """What one envelope can still give this élu: min(budget left, per-élu ceiling left) (R-FUN-2)."""

    envelope_id: UUID
    siren: str
    deliberation_reference: str
    capacity_cents: int
    automatic: bool


@dataclass(frozen=True)
class ExternalCommitment:
    """CPF or CEC rights the élu committed outside this platform, with their reference (R-FUN-3)."""

    source: FundingSource
    reference: str
    amount_cents: int


@dataclass
class Line:
    source: FundingSource
    amount_cents: int
    status: LineStatus = LineStatus.PENDING
    reference: str | None = None
    envelope_id: UUID | None = None
    request_id: UUID | None = None
    siren: str | None = None

    def to_contract(self) -> ContractLine:
        return ContractLine(source=self.source, amount_cents=self.amount_cents, reference=self.reference)


def compute_lines(
    *,
    price_cents: int,
    purpose: TrainingPurpose,
    dife_available_cents: int,
    topups: Sequence[TopUpCapacity] = (),
    externals: Sequence[ExternalCommitment] = (),
) -> list[Line]:
    """The plan's lines in the legal order; they always sum exactly to the price (R-FUN-5).

    R-FUN-1: the DIFE first, up to the available balance. R-FUN-2: for a mandate training only, each
    envelope's top-up up to its capacity (never for reinsertion). R-FUN-3: for a reinsertion training only,
    the CPF/CEC commitments. R-FUN-4: the rest (reste à charge) by card. Zero-amount lines are left out.
    """
    if price_cents <= 0:
        raise RuleBroken("R-FUN-5", "a plan needs a training price above zero", field="price_cents")
    lines: list[Line] = []
    rest = price_cents
    dife = min(rest, max(dife_available_cents, 0))
    if dife > 0:
        lines.append(Line(FundingSource.DIFE, dife))
        rest -= dife
    if purpose is TrainingPurpose.MANDATE:
        seen: set[UUID] = set()
        for topup in topups:
            take = min(rest, max(topup.capacity_cents, 0))
            if take <= 0 or topup.envelope_id in seen:
                continue
            seen.add(topup.envelope_id)
            lines.append(
                Line(
                    FundingSource.COLLECTIVITE,
                    take,
                    status=LineStatus.SECURED if topup.automatic else LineStatus.PENDING,
                    reference=topup.deliberation_reference,
                    envelope_id=topup.envelope_id,
                    request_id=uuid4(),
                    siren=topup.siren,
                )
            )
            rest -= take
    if purpose is TrainingPurpose.REINSERTION:
        references: set[str] = set()
        for commitment in externals:
            take = min(rest, max(commitment.amount_cents, 0))
            if take <= 0 or commitment.reference in references:
                continue
            references.add(commitment.reference)
            lines.append(Line(commitment.source, take, LineStatus.SECURED, reference=commitment.reference))
            rest -= take
    if rest > 0:
        lines.append(Line(FundingSource.ELU_CARD, rest))
    return lines


@dataclass(frozen=True)
class DossierFacts:
    """What `dossier_validated` tells funding about the training to fund."""

    dossier_id: UUID
    elu_id: UUID
    siret: str
    purpose: TrainingPurpose
    price_cents: int
    training_start: date
    training_end: date
    acceptance_deadline: date
    theme_code: str | None = None


@dataclass(frozen=True)
class TopUpGrowth:
    """A top-up line of the plan that grew by `extra_cents` to cover a DIFE gap (R-FUN-2)."""

    line: Line
    extra_cents: int


@dataclass(frozen=True)
class EndedTopUp:
    """A top-up line that ended: `returned_cents` go back to the envelope; `consumed` when the collectivité
    pays some or all of it (its request ends `consumed`, else `released`)."""

    envelope_id: UUID
    request_id: UUID
    returned_cents: int
    consumed: bool


@dataclass
class FundingPlan:
    """The aggregate: one plan per dossier. Every method records the events it implies in `events`."""

    facts: DossierFacts
    status: PlanStatus
    lines: list[Line]
    hold_attempts: int = 0
    failure_reason: str | None = None
    version: int = 0
    events: list[Event] = field(default_factory=list)
    ended_topups: list[EndedTopUp] = field(default_factory=list)
    status_when_loaded: PlanStatus | None = field(default=None, compare=False, repr=False)
    """The status last saved (None: a plan not saved yet): a plan leaves `proposed` once, and only then
    has an acceptance-deadline timer to cancel."""

    @property
    def dossier_id(self) -> UUID:
        return self.facts.dossier_id

    @property
    def elu_id(self) -> UUID:
        return self.facts.elu_id

    # ---- creation

    @classmethod
    def propose(
        cls, facts: DossierFacts, *, dife_available_cents: int, topups: Sequence[TopUpCapacity] = ()
    ) -> FundingPlan:
        """R-FUN-1…5: compute the lines, ask the ledger for the hold and the collectivités for top-ups."""
        lines = compute_lines(
            price_cents=facts.price_cents,
            purpose=facts.purpose,
            dife_available_cents=dife_available_cents,
            topups=topups,
        )
        plan = cls(facts=facts, status=PlanStatus.PROPOSED, lines=lines)
        plan._record_proposed()
        if plan.dife_line is not None:
            plan._request_hold()
        for line in plan.topup_lines:
            plan._record_topup_request(line)
        plan._ready_if_complete()
        return plan

    # ---- views

    @property
    def dife_line(self) -> Line | None:
        return next((line for line in self.lines if line.source is FundingSource.DIFE), None)

    @property
    def card_line(self) -> Line | None:
        return next((line for line in self.lines if line.source is FundingSource.ELU_CARD), None)

    @property
    def topup_lines(self) -> list[Line]:
        return [line for line in self.lines if line.source is FundingSource.COLLECTIVITE]

    @property
    def missing(self) -> list[str]:
        """What still keeps the plan from being ready, in words the front-end can show."""
        if self.status is not PlanStatus.PROPOSED:
            return []
        waiting = {
            FundingSource.DIFE: "the DIFE hold on the élu's account",
            FundingSource.COLLECTIVITE: "the collectivité's decision on its top-up",
            FundingSource.ELU_CARD: "the élu's card payment of the reste à charge",
        }
        return [waiting[line.source] for line in self.lines if line.status is LineStatus.PENDING]

    def _line_sum_is_the_price(self) -> None:
        """R-FUN-5: checked after every recomputation, so a bug cannot publish an unbalanced plan."""
        total = sum(line.amount_cents for line in self.lines)
        if total != self.facts.price_cents:
            raise RuleBroken("R-FUN-5", f"plan lines sum to {total} cents, not {self.facts.price_cents}")

    # ---- the DIFE hold (R-FUN-1)

    def _request_hold(self) -> None:
        line = self.dife_line
        assert line is not None
        self.hold_attempts += 1
        self.events.append(
            DifeHoldRequested(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                amount_cents=line.amount_cents,
                purpose=self.facts.purpose,
                training_start=self.facts.training_start,
                training_end=self.facts.training_end,
            )
        )

    def on_hold_placed(self, amount_cents: int) -> None:
        """The ledger reserved the DIFE line; a late answer for an ended plan changes nothing (its release
        was requested after the hold request, and the ledger handles both in that order)."""
        line = self.dife_line
        if self.status is not PlanStatus.PROPOSED or line is None or line.status is not LineStatus.PENDING:
            return
        if amount_cents != line.amount_cents:
            raise RuleBroken(
                "R-FUN-1", f"hold of {amount_cents} cents does not match the DIFE line of {line.amount_cents}"
            )
        line.status = LineStatus.SECURED
        self._ready_if_complete()

    def on_hold_captured(self) -> None:
        """R-FUN-5 / R-PAY-2: payout spent the hold (the unspent part went back to the élu on the ledger)."""
        line = self.dife_line
        if line is not None and line.status is LineStatus.SECURED:
            line.status = LineStatus.CONSUMED

    def on_hold_rejected(
        self, reason: HoldRejectionReason, available_cents: int, *, max_attempts: int = MAX_HOLD_ATTEMPTS
    ) -> None:
        """R-FUN-1: the balance moved → recompute the DIFE line with what the ledger reported, at most
        `max_attempts` requests in all; the élu cannot use the DIFE (inactive, not eligible): the plan fails.
        """
        line = self.dife_line
        if self.status is not PlanStatus.PROPOSED or line is None or line.status is not LineStatus.PENDING:
            return
        if reason is not HoldRejectionReason.INSUFFICIENT_RIGHTS:
            line.status = LineStatus.RELEASED
            self.fail(f"DIFE hold rejected: {reason.value.replace('_', ' ')}")
            return
        if self.hold_attempts >= max_attempts:
            line.status = LineStatus.RELEASED
            self.fail(
                f"the DIFE balance changed {self.hold_attempts} times while securing the plan; try again"
            )
            return
        new_amount = min(line.amount_cents, max(available_cents, 0))
        if new_amount == 0:
            self.lines.remove(line)
        else:
            line.amount_cents = new_amount
        self._rebalance_card()
        self._record_proposed()
        if new_amount > 0:
            self._request_hold()
        self._ready_if_complete()

    # ---- collectivité top-ups (R-FUN-2)

    def _record_topup_request(self, line: Line) -> None:
        assert line.siren is not None and line.reference is not None
        self.events.append(
            CofundingRequested(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                siren=line.siren,
                amount_cents=line.amount_cents,
                deliberation_reference=line.reference,
                request_id=line.request_id,
            )
        )
        if line.status is LineStatus.SECURED:
            self._record_topup_decision(line, approved=True)

    def _record_topup_decision(self, line: Line, *, approved: bool) -> None:
        assert line.siren is not None
        self.events.append(
            CofundingDecided(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                siren=line.siren,
                approved=approved,
                amount_cents=line.amount_cents if approved else 0,
                request_id=line.request_id,
            )
        )

    def cover_dife_gap(
        self, topups: Sequence[TopUpCapacity], asked: Collection[UUID] = ()
    ) -> tuple[list[Line], list[TopUpGrowth]]:
        """R-FUN-2: when the DIFE line shrank, the élu's top-ups take the new gap before the card, within each
        envelope's rules (`capacity_cents`: budget left and this élu's ceiling left), in envelope order:
        - a top-up line of this plan still waiting for its manual decision, or granted automatically, grows
          by what its envelope can still give (the collectivité is asked again for the new amount);
        - an envelope not asked yet by this dossier (`asked`: every envelope it asked, whatever the answer)
          gets a new request;
        - a manual request already decided is not asked again: the collectivité decided on what it was asked.
        The card takes the rest. Never for reinsertion, never once the card payment has started.
        Returns the new lines and the grown ones, for the caller to reserve on their envelopes."""
        card = self.card_line
        if (
            self.status is not PlanStatus.PROPOSED
            or self.facts.purpose is not TrainingPurpose.MANDATE
            or card is None
            or card.status is not LineStatus.PENDING
            or card.reference is not None
        ):
            return [], []
        by_envelope = {line.envelope_id: line for line in self.topup_lines}
        gap = card.amount_cents
        grown: list[TopUpGrowth] = []
        new_lines: list[Line] = []
        for topup in topups:
            take = min(gap, max(topup.capacity_cents, 0))
            line = by_envelope.get(topup.envelope_id)
            if take <= 0:
                continue
            if line in new_lines:
                continue  # one request per envelope and dossier, even if the envelope is offered twice
            if line is not None and (line.status is LineStatus.PENDING or topup.automatic):
                line.amount_cents += take
                grown.append(TopUpGrowth(line, take))
            elif line is None and topup.envelope_id not in asked:
                [line] = compute_lines(
                    price_cents=take,
                    purpose=TrainingPurpose.MANDATE,
                    dife_available_cents=0,
                    topups=[topup],
                )
                new_lines.append(line)
                by_envelope[topup.envelope_id] = line
            else:
                continue
            gap -= take
        if not grown and not new_lines:
            return [], []
        self.lines = [line for line in self.lines if line is not card] + new_lines + [card]
        self._rebalance_card()
        self._record_proposed()
        for growth in grown:
            self._record_topup_request(growth.line)
        for line in new_lines:
            self._record_topup_request(line)
        self._ready_if_complete()
        return new_lines, grown

    def topup_line(self, request_id: UUID) -> Line:
        for line in self.topup_lines:
            if line.request_id == request_id:
                return line
        raise RuleBroken("R-FUN-2", "this plan has no top-up request with that id", field="request_id")

    def decide_topup(self, request_id: UUID, *, approved: bool, amount_cents: int) -> int:
        """R-FUN-2: the collectivité grants at most what was asked; what it does not grant goes to the card.
        Returns the cents to give back to the envelope."""
        line = self.topup_line(request_id)
        if self.status is not PlanStatus.PROPOSED or line.status is not LineStatus.PENDING:
            raise InvalidTransition(current=f"{self.status}/{line.status}", wanted="decide", allowed=())
        if approved and not 0 < amount_cents <= line.amount_cents:
            raise RuleBroken(
                "R-FUN-2",
                f"an approval grants between 1 and the {line.amount_cents} cents asked",
                field="amount_cents",
            )
        granted = amount_cents if approved else 0
        returned = line.amount_cents - granted
        if granted:
            line.amount_cents = granted
            line.status = LineStatus.SECURED
            self._record_topup_decision(line, approved=True)
        else:
            self._record_topup_decision(line, approved=False)
            self.lines.remove(line)
        if returned:
            self._rebalance_card()
            self._record_proposed()
        self._ready_if_complete()
        return returned

    # ---- CPF / CEC (R-FUN-3)

    def add_external_commitment(self, commitment: ExternalCommitment) -> None:
        """R-FUN-3: only for a reinsertion training, only up to the reste à charge, each reference once."""
        if self.facts.purpose is not TrainingPurpose.REINSERTION:
            raise RuleBroken(
                "R-FUN-3", "CPF and CEC rights complete only a reinsertion training", field="source"
            )
        if commitment.source not in (FundingSource.CPF, FundingSource.CEC):
            raise RuleBroken("R-FUN-3", "an external commitment is CPF or CEC", field="source")
        if self.status is not PlanStatus.PROPOSED:
            raise InvalidTransition(current=self.status, wanted="add an external commitment", allowed=())
        if any(line.reference == commitment.reference for line in self.lines):
            raise Conflict(f"commitment {commitment.reference!r} is already in the plan", rule_id="R-FUN-3")
        card = self.card_line
        rest = card.amount_cents if card is not None and card.status is LineStatus.PENDING else 0
        if not 0 < commitment.amount_cents <= rest:
            raise RuleBroken(
                "R-FUN-3",
                f"a commitment covers at most the reste à charge of {rest} cents",
                field="amount_cents",
            )
        position = self.lines.index(card) if card is not None else len(self.lines)
        self.lines.insert(
            position,
            Line(
                commitment.source, commitment.amount_cents, LineStatus.SECURED, reference=commitment.reference
            ),
        )
        self._rebalance_card()
        self._record_proposed()
        self._ready_if_complete()

    # ---- the card (R-FUN-4)

    def card_amount_to_pay(self) -> int:
        """R-FUN-4: the élu pays the exact remainder once every other line is secured (so it cannot move)."""
        card = self.card_line
        if self.status is not PlanStatus.PROPOSED or card is None or card.status is not LineStatus.PENDING:
            raise InvalidTransition(current=self.status, wanted="pay by card", allowed=())
        if any(line.status is LineStatus.PENDING for line in self.lines if line is not card):
            raise RuleBroken("R-FUN-4", "the card pays the remainder once the DIFE and top-ups are secured")
        return card.amount_cents

    def confirm_card(self, *, amount_cents: int, provider_reference: str) -> None:
        """R-FUN-4: the provider's signed notification confirms the exact remainder; money that arrives for a
        plan that ended (or twice) is refunded at once."""
        card = self.card_line
        if self.status is not PlanStatus.PROPOSED or card is None or card.status is not LineStatus.PENDING:
            self.refund_stray_payment(amount_cents, provider_reference)
            return
        if amount_cents != card.amount_cents:
            raise RuleBroken(
                "R-FUN-4",
                f"the notification says {amount_cents} cents, the reste à charge is {card.amount_cents}",
                field="amount_cents",
            )
        card.status = LineStatus.SECURED
        card.reference = provider_reference
        self.events.append(
            CardPaymentConfirmed(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                amount_cents=amount_cents,
                provider_reference=provider_reference,
            )
        )
        self._ready_if_complete()

    def refund_stray_payment(self, amount_cents: int, provider_reference: str) -> None:
        """Money the plan no longer waits for (ended plan, superseded intent, second payment) goes back."""
        self.events.append(
            CardRefundOrdered(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                amount_cents=amount_cents,
                provider_reference=provider_reference,
                reason="card payment received for a plan that no longer waits for it",
            )
        )

    # ---- readiness, failure, exits

    def _rebalance_card(self) -> None:
        """R-FUN-4 / R-FUN-5: the card line is always the price minus every other line."""
        others = sum(line.amount_cents for line in self.lines if line.source is not FundingSource.ELU_CARD)
        rest = self.facts.price_cents - others
        card = self.card_line
        if card is not None and card.status is not LineStatus.PENDING:
            raise Conflict("the card payment is already made; the plan cannot change", rule_id="R-FUN-4")
        if rest > 0 and card is None:
            self.lines.append(Line(FundingSource.ELU_CARD, rest))
        elif rest > 0 and card is not None:
            card.amount_cents = rest
        elif card is not None:
            self.lines.remove(card)
        self._line_sum_is_the_price()

    def _record_proposed(self) -> None:
        self._line_sum_is_the_price()
        self.events.append(
            PlanProposed(
                dossier_id=self.dossier_id,
                elu_id=self.elu_id,
                price_cents=self.facts.price_cents,
                lines=[line.to_contract() for line in self.lines],
            )
        )

    def _ready_if_complete(self) -> None:
        if self.status is PlanStatus.PROPOSED and all(
            line.status is LineStatus.SECURED for line in self.lines
        ):
            self.status = PlanStatus.READY
            self.events.append(
                PlanReady(
                    dossier_id=self.dossier_id,
                    elu_id=self.elu_id,
                    price_cents=self.facts.price_cents,
                    lines=[line.to_contract() for line in self.lines],
                )
            )

    def fail(self, reason: str) -> None:
        """The plan cannot be completed: everything reserved goes back, and the élu is told why."""
        if self.status is not PlanStatus.PROPOSED:
            raise InvalidTransition(current=self.status, wanted="fail", allowed=())
        self._give_everything_back(f"plan failed: {reason}")
        self.status = PlanStatus.FAILED
        self.failure_reason = reason
        self.events.append(PlanFailed(dossier_id=self.dossier_id, elu_id=self.elu_id, reason=reason))

    def acceptance_deadline_passed(self) -> None:
        """R-DOS-1: a plan not complete by the élu's acceptance deadline fails and releases everything."""
        if self.status is PlanStatus.PROPOSED:
            self.fail(
                f"the plan was not complete by the acceptance deadline {self.facts.acceptance_deadline}"
            )

    def exit(self, reason: str, *, rights_consumed: bool, policy: ConsumedExitPolicy) -> None:
        """The dossier ended without training (refusal, expiry, cancellation): give back what was reserved.
        R-DOS-5: with `rights_consumed` the DIFE hold stays for payout to capture; other lines follow
        `policy`. A ready plan's card is then refunded by payout (its late-cancellation allocation publishes
        `refund_ordered`, having the plan): funding orders no second refund."""
        if self.status in (PlanStatus.FAILED, PlanStatus.CLOSED):
            return
        if not rights_consumed:
            self._give_everything_back(reason)
        else:
            payout_refunds_the_card = self.status is PlanStatus.READY
            for line in self.lines:
                if line.status in ENDED:
                    continue
                if line.source is FundingSource.DIFE:
                    line.status = LineStatus.CONSUMED
                elif (
                    line.source is FundingSource.ELU_CARD
                    and payout_refunds_the_card
                    and policy.card is CardOnConsumedExit.REFUND
                ):
                    line.status = LineStatus.REFUNDED  # payout's late-cancellation refund_ordered (R-PAY-2)
                elif (
                    line.source is FundingSource.COLLECTIVITE
                    and policy.cofunding is CofundingOnConsumedExit.CONSUME
                ):
                    self._end_topup(line, consumed=True)
                elif line.source is FundingSource.ELU_CARD and policy.card is CardOnConsumedExit.KEEP:
                    line.status = (
                        LineStatus.CONSUMED if line.status is LineStatus.SECURED else LineStatus.RELEASED
                    )
                else:
                    self._give_back(line, reason)
        self.status = PlanStatus.CLOSED

    def _give_everything_back(self, reason: str) -> None:
        for line in self.lines:
            if line.status not in ENDED:
                self._give_back(line, reason)

    def _give_back(self, line: Line, reason: str) -> None:
        was_secured = line.status is LineStatus.SECURED
        if line.source is FundingSource.DIFE:
            self.events.append(
                DifeReleaseRequested(dossier_id=self.dossier_id, elu_id=self.elu_id, reason=reason)
            )
            line.status = LineStatus.RELEASED
        elif line.source is FundingSource.COLLECTIVITE:
            self._end_topup(line, consumed=False)
        elif line.source is FundingSource.ELU_CARD and was_secured:
            self.events.append(
                CardRefundOrdered(
                    dossier_id=self.dossier_id,
                    elu_id=self.elu_id,
                    amount_cents=line.amount_cents,
                    provider_reference=line.reference or "",
                    reason=reason,
                )
            )
            line.status = LineStatus.REFUNDED
        else:
            line.status = LineStatus.RELEASED

    def _end_topup(self, line: Line, *, consumed: bool, returned_cents: int | None = None) -> None:
        assert line.envelope_id is not None and line.request_id is not None
        line.status = LineStatus.CONSUMED if consumed else LineStatus.RELEASED
        if returned_cents is None:
            returned_cents = 0 if consumed else line.amount_cents
        self.ended_topups.append(EndedTopUp(line.envelope_id, line.request_id, returned_cents, consumed))

    # ---- after the service (R-PAY-2)

    def settle(self, amount_due_cents: int, *, policy: SettlementPolicy) -> None:
        """R-PAY-2: payout drew the amount due (price × taux de réalisation) from the lines in plan order,
        DIFE first (the plan's own order, R-FUN-1), each line up to its amount. The DIFE line waits for the
        ledger's capture; a top-up's unused part returns to its envelope (`policy`); CPF/CEC and the card end
        drawn or not (payout claims the CPF/CEC share and refunds the card's unused part). Only a ready plan
        is paid; any other state (or a second payment order) changes nothing."""
        if self.status is not PlanStatus.READY:
            return
        remaining = amount_due_cents
        for line in self.lines:
            drawn = min(remaining, line.amount_cents)
            remaining -= drawn
            if line.source is FundingSource.DIFE:
                continue
            if line.source is FundingSource.COLLECTIVITE:
                keep = policy.unused_topup is UnusedTopUpOnSettlement.KEEP
                unused = 0 if keep else line.amount_cents - drawn
                self._end_topup(line, consumed=drawn > 0 or keep, returned_cents=unused)
            else:
                line.status = LineStatus.CONSUMED if drawn > 0 else LineStatus.RELEASED
        self.status = PlanStatus.CLOSED
