"""The hot read path: an account and what its mandates allow, in one prepared statement on a plain asyncpg
pool (no ORM, no explicit transaction), so ``GET /v1/accounts/{id}`` stays within a few milliseconds."""

from __future__ import annotations

from uuid import UUID

import asyncpg
from dife_contracts.enums import MandateFamily

from rights_ledger.adapters.accounts import AccountState
from rights_ledger.domain.mandates import AccountStatus, Mandate

_ACCOUNT_SQL = """
    SELECT a.status, a.subject, a.balance_cents, a.held_cents, e.pension_liquidated_on,
           coalesce(array_agg(m.family) FILTER (WHERE m.mandate_id IS NOT NULL), '{}') AS families,
           coalesce(array_agg(m.start_date) FILTER (WHERE m.mandate_id IS NOT NULL), '{}') AS starts,
           coalesce(array_agg(m.end_date) FILTER (WHERE m.mandate_id IS NOT NULL), '{}') AS ends
    FROM accounts a
    JOIN elus e ON e.elu_id = a.elu_id
    LEFT JOIN mandates m ON m.elu_id = a.elu_id
    WHERE a.elu_id = $1
    GROUP BY a.elu_id, e.elu_id
"""


class AccountReader:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def account(self, elu_id: UUID) -> AccountState | None:
        async with self._pool.acquire() as connection:
            row = await connection.fetchrow(_ACCOUNT_SQL, elu_id)
        if row is None:
            return None
        mandates = [
            Mandate(MandateFamily(family), start, end)
            for family, start, end in zip(row["families"], row["starts"], row["ends"], strict=True)
        ]
        return AccountState(
            elu_id=elu_id,
            status=AccountStatus(row["status"]),
            subject=row["subject"],
            balance_cents=row["balance_cents"],
            held_cents=row["held_cents"],
            pension_liquidated_on=row["pension_liquidated_on"],
            mandates=mandates,
        )
