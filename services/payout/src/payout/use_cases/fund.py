"""The fund's position over a period, with its rolling 3-year window (DOMAIN.md §6)."""

from __future__ import annotations

from datetime import date

from payout.adapters.repository import FundRepository
from payout.domain.fund import FundPosition, check_period, rolling_start


async def position(fund: FundRepository, *, start: date, end: date) -> FundPosition:
    check_period(start, end)
    return FundPosition(
        period=await fund.flows(start, end),
        rolling=await fund.flows(rolling_start(end), end),
        dife_committed_cents=await fund.committed_at(end),
    )
