"""The yearly crediting campaign and the expiry run (R-ACC-1..4, R-END-1).

A campaign runs in ranges of élus, each range one transaction (owned by the job) holding its credits,
movements and ``rights_credited`` events; the unique key (élu, year) makes a range credited again a no-op, so
a campaign taken up again, or posted twice, credits nobody twice.
"""

from __future__ import annotations

from datetime import date
from typing import Any, Protocol
from uuid import UUID

from servicekit.clock import Clock

from rights_ledger.domain.campaigns import (
    CampaignPlan,
    CampaignTotals,
    Expired,
    expiry_reference,
    rights_expired,
)
from rights_ledger.use_cases.ports import Outbox


class CreditingStore(Protocol):
    async def account_count(self) -> int: ...
    async def chunk_bounds(self, size: int) -> list[tuple[UUID, UUID]]: ...
    async def credit_chunk(self, plan: CampaignPlan, after: UUID, upto: UUID, at: Any) -> None: ...
    async def totals(self, plan: CampaignPlan) -> CampaignTotals: ...
    async def expire_due(self, as_of: date, at: Any, reference: str) -> list[Expired]: ...


async def credit_range(
    store: CreditingStore, plan: CampaignPlan, after: UUID, upto: UUID, clock: Clock
) -> None:
    """R-ACC-1/2: credit every élu of ``(after, upto]`` the campaign covers, once for the year."""
    await store.credit_chunk(plan, after, upto, clock.now())


async def campaign_report(store: CreditingStore, plan: CampaignPlan, accounts_total: int) -> dict[str, Any]:
    totals = await store.totals(plan)
    return {
        "campaign_date": plan.on.isoformat(),
        "yearly_credit_cents": plan.rights.yearly_credit_cents,
        "cap_cents": plan.rights.cap_cents,
        "credited": totals.credited,
        "capped": totals.capped,
        "skipped": accounts_total - totals.credited,
        "total_cents": totals.total_cents,
    }


async def expire_rights(store: CreditingStore, outbox: Outbox, as_of: date, clock: Clock) -> dict[str, Any]:
    """R-END-1: expire, as explicit movements, the balances whose window of use is over."""
    expired = await store.expire_due(as_of, clock.now(), expiry_reference(as_of))
    await outbox.add_many(rights_expired(e, as_of) for e in expired)
    return {"expired": len(expired), "total_cents": sum(e.amount_cents for e in expired)}
