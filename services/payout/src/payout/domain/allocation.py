"""Taking the amount due from the funding plan's lines, DIFE first (R-PAY-2), and the late-cancellation
policy of R-DOS-5.

The fund pays the organisme the whole amount due; each plan line says who bears which part of it:
- DIFE: the share drawn is captured on the élu's hold, the ledger gives the rest of the hold back;
- collectivité: the share drawn is a receivable on the collectivité (its top-up, R-FUN-2);
- CPF / CEC: the share drawn is recorded against the line's reference (external commitment, R-FUN-3);
- élu's card: the card was paid up front; what the service did not use is refunded (R-PAY-2).
"""

from __future__ import annotations

from dataclasses import dataclass

from dife_contracts.enums import FundingSource
from servicekit.rules import RuleBroken


@dataclass(frozen=True, slots=True)
class PlanLine:
    """One line of the plan funding published (`plan_ready`), in plan order."""

    source: FundingSource
    amount_cents: int
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class Share:
    """What one plan line bears of the amount due: `drawn_cents` of its `planned_cents`."""

    source: FundingSource
    planned_cents: int
    drawn_cents: int
    reference: str | None = None

    @property
    def unused_cents(self) -> int:
        return self.planned_cents - self.drawn_cents


@dataclass(frozen=True, slots=True)
class Allocation:
    """The amount due spread over the plan's lines: for a service, the shares drawn sum exactly to
    `amount_due_cents`; for a late cancellation nothing is due and only the DIFE line is drawn (forfeited)."""

    amount_due_cents: int
    shares: tuple[Share, ...]

    def drawn(self, source: FundingSource) -> int:
        return sum(share.drawn_cents for share in self.shares if share.source is source)

    @property
    def has_dife_line(self) -> bool:
        return any(share.source is FundingSource.DIFE for share in self.shares)

    @property
    def dife_capture_cents(self) -> int:
        """R-PAY-2: the part of the DIFE hold spent; the ledger releases the rest."""
        return self.drawn(FundingSource.DIFE)

    @property
    def collectivite_receivable_cents(self) -> int:
        return self.drawn(FundingSource.COLLECTIVITE)

    @property
    def card_refund_cents(self) -> int:
        """R-PAY-2: the card share the service did not use goes back to the élu."""
        return sum(share.unused_cents for share in self.shares if share.source is FundingSource.ELU_CARD)

    @property
    def external_commitments(self) -> tuple[Share, ...]:
        """CPF and CEC shares drawn, each against its reference (R-FUN-3)."""
        external = (FundingSource.CPF, FundingSource.CEC)
        return tuple(share for share in self.shares if share.source in external and share.drawn_cents)


def in_plan_order_dife_first(lines: list[PlanLine]) -> list[PlanLine]:
    """R-PAY-2: the DIFE line first, then the other lines in the order of the plan (a stable sort)."""
    return sorted(lines, key=lambda line: line.source is not FundingSource.DIFE)


def allocate(lines: list[PlanLine], amount_due_cents: int) -> Allocation:
    """R-PAY-2: draw the amount due from the plan's lines in plan order, DIFE first, each up to its amount.

    The plan sums to the price and the amount due is at most the price (R-PAY-1, percent ≤ 100), so the lines
    always cover it; a plan that does not is a contradiction between funding and dossier, refused.
    """
    if not lines:
        raise RuleBroken("R-PAY-2", "no funding plan line to take the amount due from")
    planned = sum(line.amount_cents for line in lines)
    if amount_due_cents > planned:
        raise RuleBroken(
            "R-PAY-2",
            f"the amount due ({amount_due_cents} cents) exceeds the funding plan ({planned} cents)",
        )
    remaining = amount_due_cents
    shares = []
    for line in in_plan_order_dife_first(lines):
        drawn = min(remaining, line.amount_cents)
        remaining -= drawn
        shares.append(Share(line.source, line.amount_cents, drawn, line.reference))
    return Allocation(amount_due_cents=amount_due_cents, shares=tuple(shares))


def late_cancellation(lines: list[PlanLine]) -> Allocation:
    """R-DOS-5 (policy): a late cancellation by the élu consumes the rights: the whole DIFE line is
    captured and the organisme is paid nothing. Only the DIFE rights are forfeited: the card share is
    refunded whole and no other line is drawn (nobody owes anything for a training that did not happen)."""
    shares = tuple(
        Share(
            line.source,
            line.amount_cents,
            line.amount_cents if line.source is FundingSource.DIFE else 0,
            line.reference,
        )
        for line in in_plan_order_dife_first(lines)
    )
    return Allocation(amount_due_cents=0, shares=shares)
