"""Set-based SQL of crediting campaigns and expiry runs (R-ACC-1..4, R-END-1).

The SQL mirrors the domain functions it names (``credited_in_campaign``, ``credit_amount``,
``rights_usable_until``); the integration tests check both give the same answers. Each call runs in the
caller's transaction.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from dife_contracts.events import RightsCredited
from servicekit.outbox import insert_from_select_params, insert_from_select_sql
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from rights_ledger.domain.campaigns import CampaignPlan, CampaignTotals, Expired

# Every élu falls in one chunk (lower bound excluded, upper included), chunks of ``size`` accounts.
_CHUNK_BOUNDS_SQL = """
    SELECT elu_id FROM (SELECT elu_id, row_number() OVER (ORDER BY elu_id) AS n FROM accounts) numbered
    WHERE n % :size = 0 ORDER BY elu_id
"""
LOWEST_ID, HIGHEST_ID = UUID(int=0), UUID(int=2**128 - 1)

# credited_in_campaign: a mandate runs on the campaign date; the longest-held one (earliest start, municipal
# first on a tie) is of the campaign's family, or the campaign is the year's last one (catch_up).
# credit_amount: min(yearly, cap − balance), never negative; one credit per élu per year (primary key).
# The credit's value date is the campaign's date (never after today: R-ACC-3), its campaign (year, family).
_CREDIT_CHUNK_SQL = """
    WITH longest AS (
        SELECT DISTINCT ON (m.elu_id) m.elu_id, m.family
        FROM mandates m
        WHERE m.elu_id > :after AND m.elu_id <= :upto
          AND m.start_date <= :on AND (m.end_date IS NULL OR m.end_date >= :on)
        ORDER BY m.elu_id, m.start_date, (m.family = ANY(:first_families)) DESC
    ), eligible AS (
        SELECT elu_id, family FROM longest WHERE family = ANY(:families) OR :catch_up
    ), locked AS (
        SELECT a.elu_id, a.balance_cents FROM accounts a JOIN eligible e USING (elu_id)
        WHERE NOT EXISTS (SELECT 1 FROM credits c WHERE c.elu_id = a.elu_id AND c.year = :year)
        ORDER BY a.elu_id FOR UPDATE OF a
    ), credited AS (
        INSERT INTO credits (elu_id, year, campaign_id, family, amount_cents, credited_on)
        SELECT elu_id, :year, :campaign_id, :campaign_family,
               greatest(0, least(:yearly_cents, :cap_cents - balance_cents)), :on
        FROM locked
        ON CONFLICT (elu_id, year) DO NOTHING
        RETURNING elu_id, amount_cents
    ), updated AS (
        UPDATE accounts a
        SET balance_cents = a.balance_cents + c.amount_cents, cap_cents = :cap_cents, updated_at = now()
        FROM credited c WHERE a.elu_id = c.elu_id AND c.amount_cents > 0
        RETURNING a.elu_id, c.amount_cents, a.balance_cents, a.held_cents
    ), journal AS (
        INSERT INTO movements (elu_id, kind, counterparty, amount_cents, balance_delta_cents,
                               held_delta_cents, balance_after_cents, held_after_cents, at, reference,
                               value_date, campaign_year, campaign_family)
        SELECT elu_id, 'credit', 'fund', amount_cents, amount_cents, 0, balance_cents, held_cents,
               :at, :reference, :on, :year, :campaign_family
        FROM updated
        RETURNING elu_id, amount_cents, balance_after_cents
    ), published AS (
        {publish}
        RETURNING 1
    )
    SELECT count(*) FROM published
"""

# The payload of RightsCredited (dife_contracts.events.ledger), one per journal entry of the chunk.
_CREDITED_ROWS = """
    SELECT j.elu_id::text AS subject,
           json_build_object('elu_id', j.elu_id, 'campaign_id', CAST(:campaign_id AS uuid), 'year', :year,
                             'family', e.family, 'amount_cents', j.amount_cents,
                             'capped', j.amount_cents < :yearly_cents,
                             'balance_after_cents', j.balance_after_cents, 'credited_on', :on) AS payload
    FROM journal j JOIN eligible e USING (elu_id)
"""

_TOTALS_SQL = """
    SELECT count(*) FILTER (WHERE amount_cents > 0) AS credited,
           count(*) FILTER (WHERE amount_cents < :yearly_cents) AS capped,
           coalesce(sum(amount_cents), 0) AS total_cents
    FROM credits WHERE campaign_id = :campaign_id
"""

# rights_usable_until: last mandate end + 6 months, or up to the pension's liquidation; expiry_due: after it.
# The expiry's value date is the run's as_of (never after today: R-END-1).
_EXPIRY_SQL = """
    WITH ended AS (
        SELECT m.elu_id, max(m.end_date) AS last_end
        FROM mandates m GROUP BY m.elu_id HAVING bool_and(m.end_date IS NOT NULL)
    ), due AS (
        SELECT d.elu_id FROM (
            SELECT x.elu_id,
                   CASE WHEN e.pension_liquidated_on IS NULL THEN (x.last_end + interval '6 months')::date
                        ELSE least((x.last_end + interval '6 months')::date,
                                   greatest(x.last_end, e.pension_liquidated_on)) END AS usable_until
            FROM ended x JOIN elus e USING (elu_id)) d
        WHERE :as_of > d.usable_until
    ), locked AS (
        SELECT a.elu_id, a.balance_cents - a.held_cents AS amount_cents
        FROM accounts a JOIN due USING (elu_id)
        WHERE a.balance_cents > a.held_cents
        ORDER BY a.elu_id FOR UPDATE OF a
    ), updated AS (
        UPDATE accounts a
        SET balance_cents = a.balance_cents - l.amount_cents,
            status = CASE WHEN a.held_cents = 0 THEN 'closed' ELSE a.status END, updated_at = now()
        FROM locked l WHERE a.elu_id = l.elu_id
        RETURNING a.elu_id, l.amount_cents, a.balance_cents, a.held_cents
    )
    INSERT INTO movements (elu_id, kind, counterparty, amount_cents, balance_delta_cents, held_delta_cents,
                           balance_after_cents, held_after_cents, at, reference, value_date)
    SELECT elu_id, 'expiry', 'expired', amount_cents, -amount_cents, 0, balance_cents, held_cents,
           :at, :reference, :as_of
    FROM updated
    RETURNING elu_id, amount_cents
"""

_CREDIT_SQL = _CREDIT_CHUNK_SQL.format(publish=insert_from_select_sql(_CREDITED_ROWS))


class CreditingRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def account_count(self) -> int:
        return int((await self.session.execute(text("SELECT count(*) FROM accounts"))).scalar_one())

    async def chunk_bounds(self, size: int) -> list[tuple[UUID, UUID]]:
        """Ranges ``(after, upto]`` of élu ids that cover every account, ``size`` accounts each."""
        bounds = list((await self.session.execute(text(_CHUNK_BOUNDS_SQL), {"size": size})).scalars())
        return list(zip([LOWEST_ID, *bounds], [*bounds, HIGHEST_ID], strict=True))

    async def credit_chunk(self, plan: CampaignPlan, after: UUID, upto: UUID, at: datetime) -> None:
        """Credit the élus of one range once for the year, with their movements and ``rights_credited``."""
        await self.session.execute(text("SET LOCAL work_mem = '64MB'"))
        await self.session.execute(text("SET LOCAL jit = off"))
        await self.session.execute(text(_CREDIT_SQL), {**_bind(plan), "after": after, "upto": upto, "at": at})

    async def totals(self, plan: CampaignPlan) -> CampaignTotals:
        row = (
            await self.session.execute(
                text(_TOTALS_SQL),
                {"campaign_id": plan.campaign_id, "yearly_cents": plan.rights.yearly_credit_cents},
            )
        ).one()
        return CampaignTotals(row.credited, row.capped, int(row.total_cents))

    async def expire_due(self, as_of: date, at: datetime, reference: str) -> list[Expired]:
        """R-END-1: take the available balance of every account whose window of use ended before ``as_of``."""
        rows = await self.session.execute(
            text(_EXPIRY_SQL), {"as_of": as_of, "at": at, "reference": reference}
        )
        return [Expired(r.elu_id, r.amount_cents) for r in rows]


def _bind(plan: CampaignPlan) -> dict[str, Any]:
    return {
        "on": plan.on,
        "year": plan.year,
        "families": [f.value for f in plan.families],
        "first_families": [f.value for f in plan.first_families],
        "catch_up": plan.catch_up,
        "campaign_id": plan.campaign_id,
        "campaign_family": plan.family.value,
        "yearly_cents": plan.rights.yearly_credit_cents,
        "cap_cents": plan.rights.cap_cents,
        "reference": plan.reference,
        **insert_from_select_params(RightsCredited),
    }
