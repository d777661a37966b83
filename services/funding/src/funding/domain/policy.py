"""Decisions the law leaves open, named once; their values come from settings (one configurable place)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict


class CofundingOnConsumedExit(StrEnum):
    """What a late cancellation or a no-show does to a collectivité's top-up (R-DOS-5, policy)."""

    RELEASE = "release"
    CONSUME = "consume"


class CardOnConsumedExit(StrEnum):
    """What a late cancellation or a no-show does to the élu's card payment (R-DOS-5, policy)."""

    REFUND = "refund"
    KEEP = "keep"


class ConsumedExitPolicy(BaseModel):
    """R-DOS-5 (policy): when `rights_consumed` is true the DIFE hold is captured by payout (the OF is paid
    nothing). The other lines follow this policy. Default: the collectivité's money goes back to its envelope
    and the élu's card payment is refunded, because nobody is paid for the training; only the DIFE rights are
    forfeited, as the law's penalty names only them."""

    model_config = ConfigDict(frozen=True)

    cofunding: CofundingOnConsumedExit = CofundingOnConsumedExit.RELEASE
    card: CardOnConsumedExit = CardOnConsumedExit.REFUND


class UnusedTopUpOnSettlement(StrEnum):
    """What happens to the part of a collectivité's top-up a service did not use (R-FUN-2, R-PAY-2)."""

    RETURN = "return"
    KEEP = "keep"


class SettlementPolicy(BaseModel):
    """R-PAY-2 (policy): payout draws price × taux de réalisation from the plan's lines in plan order, DIFE
    first (`payment_ordered`); funding ends the lines the same way. The DIFE hold is captured for what was
    drawn and the ledger releases the rest. The part of a collectivité's top-up not drawn follows
    `unused_topup`: by default it returns to its envelope (budget and the élu's ceiling), because the
    collectivité pays only what the service used. CPF/CEC: only the drawn share is claimed against its
    reference (by payout); nothing of them is held here, so nothing returns. Card: the part not drawn is
    refunded by payout (`refund_ordered`, R-PAY-2), the one owner of that refund; funding orders none."""

    model_config = ConfigDict(frozen=True)

    unused_topup: UnusedTopUpOnSettlement = UnusedTopUpOnSettlement.RETURN


MAX_HOLD_ATTEMPTS = 3
"""Default bound of DIFE hold requests per plan (R-FUN-1). A rejection for insufficient rights means another
dossier took rights between our read and the ledger's decision; the ledger reports the exact available amount,
so the second request normally succeeds. Three requests absorb two competitors landing in that window and
still bound a loop against a ledger that keeps moving; after them the plan fails with a reason
the élu can read."""

PSP_TOLERANCE_S = 300
"""A card notification older (or further in the future) than 5 minutes is refused (R-FUN-4)."""
