"""The yearly crediting campaign and the expiry run, set-based (R-ACC-1..4, R-END-1).

The SQL mirrors the domain functions it names (``credited_in_campaign``, ``credit_amount``,
``rights_usable_until``); the integration tests check both give the same answers. A campaign runs in chunks of
élus (two at a time: chunks share no élu), each chunk one transaction holding its credits, movements and
``rights_credited`` events; the unique key (élu, year) makes a chunk run again a no-op, so a campaign taken
up again, or posted twice, credits nobody twice.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from dife_contracts.events import RightsCredited, RightsExpired
from servicekit.outbox import enqueue_many, insert_from_select_params, insert_from_select_sql
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rights_ledger.adapters.jobs import JobProgress
from rights_ledger.domain.parameters import CAMPAIGN_FAMILY, CampaignFamily, campaign_date, parameters_at
from rights_ledger.use_cases import SOURCE

# Every élu falls in one chunk (lower bound excluded, upper included), chunks of ``size`` accounts.
_CHUNK_BOUNDS_SQL = """
    SELECT elu_id FROM (SELECT elu_id, row_number() OVER (ORDER BY elu_id) AS n FROM accounts) numbered
    WHERE n % :size = 0 ORDER BY elu_id
"""
LOWEST_ID, HIGHEST_ID = UUID(int=0), UUID(int=2**128 - 1)

# credited_in_campaign: a mandate runs on the campaign date; the longest-held one (earliest start, municipal
# first on a tie) is of the campaign's family, or the campaign is the year's last one (catch_up).
# credit_amount: min(yearly, cap − balance), never negative; one credit per élu per year (primary key).
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
                               held_delta_cents, balance_after_cents, held_after_cents, at, reference)
        SELECT elu_id, 'credit', 'fund', amount_cents, amount_cents, 0, balance_cents, held_cents,
               :at, :reference
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
                           balance_after_cents, held_after_cents, at, reference)
    SELECT elu_id, 'expiry', 'expired', amount_cents, -amount_cents, 0, balance_cents, held_cents,
           :at, :reference
    FROM updated
    RETURNING elu_id, amount_cents
"""


_CREDIT_SQL = _CREDIT_CHUNK_SQL.format(publish=insert_from_select_sql(_CREDITED_ROWS))


class Crediting:
    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], *, chunk_elus: int = 50_000, workers: int = 2
    ) -> None:
        self._sessionmaker = sessionmaker
        self._chunk = chunk_elus
        self._workers = workers

    async def run_campaign(self, job_id: UUID, params: dict[str, Any], progress: JobProgress) -> None:
        """R-ACC-1..4: credit every élu the campaign covers, once for the year."""
        family = CampaignFamily(params["family"])
        year = int(params["year"])
        on = campaign_date(family, year)
        rights = parameters_at(on)
        families = [f.value for f, c in CAMPAIGN_FAMILY.items() if c is family]
        first = [f.value for f, c in CAMPAIGN_FAMILY.items() if c is CampaignFamily.MUNICIPAL]
        async with self._sessionmaker() as session:
            total = int((await session.execute(text("SELECT count(*) FROM accounts"))).scalar_one())
            bounds = list((await session.execute(text(_CHUNK_BOUNDS_SQL), {"size": self._chunk})).scalars())
        await progress.update(rows_total=total, rows_done=0)
        bind: dict[str, Any] = {
            "on": on,
            "year": year,
            "families": families,
            "first_families": first,
            "catch_up": family is CampaignFamily.OTHER,
            "campaign_id": job_id,
            "campaign_family": family.value,
            "yearly_cents": rights.yearly_credit_cents,
            "cap_cents": rights.cap_cents,
            "reference": f"campaign {family.value} {year}",
            **insert_from_select_params(RightsCredited, source=SOURCE),
        }
        pending = list(zip([LOWEST_ID, *bounds], [*bounds, HIGHEST_ID], strict=True))
        done = 0

        async def worker() -> None:
            nonlocal done
            while pending:
                after, upto = pending.pop(0)
                async with self._sessionmaker.begin() as session:
                    await session.execute(text("SET LOCAL work_mem = '64MB'"))
                    await session.execute(text("SET LOCAL jit = off"))
                    await session.execute(
                        text(_CREDIT_SQL), {**bind, "after": after, "upto": upto, "at": datetime.now(UTC)}
                    )
                done = min(total, done + self._chunk)
                await progress.update(rows_done=done)

        await asyncio.gather(*(worker() for _ in range(self._workers)))
        async with self._sessionmaker() as session:
            totals = (
                await session.execute(
                    text(_TOTALS_SQL), {"campaign_id": job_id, "yearly_cents": rights.yearly_credit_cents}
                )
            ).one()
        await progress.update(
            rows_done=done,
            report={
                "campaign_date": on.isoformat(),
                "yearly_credit_cents": rights.yearly_credit_cents,
                "cap_cents": rights.cap_cents,
                "credited": totals.credited,
                "capped": totals.capped,
                "skipped": total - totals.credited,
                "total_cents": int(totals.total_cents),
            },
        )

    async def run_expiry(self, job_id: UUID, params: dict[str, Any], progress: JobProgress) -> None:
        """R-END-1: expire, as explicit movements, the balances whose window of use is over."""
        as_of = date.fromisoformat(params["as_of"])
        async with self._sessionmaker.begin() as session:
            rows = (
                await session.execute(
                    text(_EXPIRY_SQL),
                    {"as_of": as_of, "at": datetime.now(UTC), "reference": f"expiry run {as_of.isoformat()}"},
                )
            ).all()
            await enqueue_many(
                session,
                (
                    RightsExpired(
                        elu_id=r.elu_id,
                        amount_cents=r.amount_cents,
                        expired_on=as_of,
                        reason="end of mandate: 6-month window over or pension liquidated (R-END-1)",
                    )
                    for r in rows
                ),
                source=SOURCE,
            )
        await progress.update(
            rows_total=len(rows),
            rows_done=len(rows),
            report={"expired": len(rows), "total_cents": sum(r.amount_cents for r in rows)},
        )
