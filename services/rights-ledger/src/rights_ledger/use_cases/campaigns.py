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
    ensure_campaign_due,
    ensure_expiry_not_ahead,
    expiry_reference,
    rights_expired,
)
from rights_ledger.domain.parameters import CampaignFamily
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


def campaign_params(family: CampaignFamily, year: int, clock: Clock) -> dict[str, Any]:
    """R-ACC-3: the parameters of a campaign job, refused before the campaign's date (Paris)."""
    ensure_campaign_due(family, year, clock.today())
    return {"family": family.value, "year": year}


def expiry_params(as_of: date, clock: Clock) -> dict[str, Any]:
    """R-END-1: the parameters of an expiry run, refused for a day after today (Paris)."""
    ensure_expiry_not_ahead(as_of, clock.today())
    return {"as_of": as_of.isoformat()}


async def expire_rights(store: CreditingStore, outbox: Outbox, as_of: date, clock: Clock) -> dict[str, Any]:
    """R-END-1: expire, as explicit movements, the balances whose window of use is over (never ahead)."""
    ensure_expiry_not_ahead(as_of, clock.today())
    expired = await store.expire_due(as_of, clock.now(), expiry_reference(as_of))
    await outbox.add_many(rights_expired(e, as_of) for e in expired)
    return {"expired": len(expired), "total_cents": sum(e.amount_cents for e in expired)}
