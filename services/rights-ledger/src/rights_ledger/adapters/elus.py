"""Repository of the registry's élus, their mandates and the journal as clients read them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from dife_contracts.enums import MandateFamily, RneFileType
from sqlalchemy import Row, and_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rights_ledger.adapters.tables import elus, hold_rejections, holds, mandates, movements
from rights_ledger.domain.identity import PersonKey
from rights_ledger.domain.parameters import CampaignFamily, CampaignRef


@dataclass(frozen=True, slots=True)
class MandateRecord:
    mandate_id: UUID
    file_type: RneFileType
    family: MandateFamily
    collectivite_code: str
    collectivite_name: str
    function: str
    start_date: date
    end_date: date | None


@dataclass(frozen=True, slots=True)
class EluRecord:
    elu_id: UUID
    family_name: str
    given_names: str
    birth_date: date
    sex: str
    pension_liquidated_on: date | None
    mandates: list[MandateRecord]


@dataclass(frozen=True, slots=True)
class JournalEntry:
    """One movement as the élu's statement shows it; ``seq`` orders the journal (the page cursor); ``at`` is
    when it was recorded, ``value_date`` the Paris date it takes effect; the typed references that apply to
    its kind are set (campaign: credit; hold and dossier: hold, capture, release; adjustment)."""

    seq: int
    id: UUID
    kind: str
    amount_cents: int
    balance_delta_cents: int
    held_delta_cents: int
    balance_after_cents: int
    held_after_cents: int
    at: datetime
    value_date: date
    reference: str | None
    campaign: CampaignRef | None
    hold_id: UUID | None
    dossier_id: UUID | None
    adjustment_id: UUID | None


_JOURNAL_COLUMNS = (
    "seq",
    "id",
    "kind",
    "amount_cents",
    "balance_delta_cents",
    "held_delta_cents",
    "balance_after_cents",
    "held_after_cents",
    "at",
    "value_date",
    "reference",
    "hold_id",
    "dossier_id",
    "adjustment_id",
)


@dataclass(frozen=True, slots=True)
class HoldRecord:
    """A hold as the élu's front-end shows it: placed (pending, posted, voided) or rejected, and why."""

    dossier_id: UUID
    status: str
    amount_cents: int
    captured_cents: int
    purpose: str | None
    training_start: date | None
    training_end: date | None
    hold_id: UUID | None
    rejection_reason: str | None
    rejection_detail: str | None
    at: datetime
    resolved_at: datetime | None


class EluRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def matching(self, person: PersonKey) -> list[EluRecord]:
        """R-REG-2: the élus of one normalised identity, with their mandates."""
        rows = await self.session.execute(
            select(elus)
            .where(
                elus.c.family_key == person.family_name,
                elus.c.given_key == person.given_names,
                elus.c.birth_date == person.birth_date,
            )
            .order_by(elus.c.elu_id)
        )
        return await self._with_mandates(list(rows.all()))

    async def search(
        self,
        *,
        family_key: str | None,
        given_key: str | None,
        birth_date: date | None,
        after: UUID | None,
        limit: int,
    ) -> list[EluRecord]:
        """Élus by normalised identity, ordered by id after ``after``, ``limit + 1`` of them (overfetch)."""
        conditions = []
        if family_key:
            conditions.append(elus.c.family_key == family_key)
        if given_key:
            conditions.append(elus.c.given_key == given_key)
        if birth_date:
            conditions.append(elus.c.birth_date == birth_date)
        if after is not None:
            conditions.append(elus.c.elu_id > after)
        query = select(elus).where(and_(*conditions)) if conditions else select(elus)
        rows = list((await self.session.execute(query.order_by(elus.c.elu_id).limit(limit + 1))).all())
        return await self._with_mandates(rows)

    async def get(self, elu_id: UUID) -> EluRecord | None:
        rows = list((await self.session.execute(select(elus).where(elus.c.elu_id == elu_id))).all())
        found = await self._with_mandates(rows)
        return found[0] if found else None

    async def set_pension(self, elu_id: UUID, liquidated_on: date) -> bool:
        """R-END-1: record the liquidation date; False when there is no such élu."""
        result = await self.session.execute(
            update(elus).where(elus.c.elu_id == elu_id).values(pension_liquidated_on=liquidated_on)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def journal_page(self, elu_id: UUID, *, after_seq: int | None, limit: int) -> list[JournalEntry]:
        columns = [movements.c[name] for name in _JOURNAL_COLUMNS]
        query = select(*columns, movements.c.campaign_year, movements.c.campaign_family).where(
            movements.c.elu_id == elu_id
        )
        if after_seq is not None:
            query = query.where(movements.c.seq > after_seq)
        rows = await self.session.execute(query.order_by(movements.c.seq).limit(limit + 1))
        return [
            JournalEntry(
                **{name: row._mapping[name] for name in _JOURNAL_COLUMNS},
                campaign=(
                    CampaignRef(row.campaign_year, CampaignFamily(row.campaign_family))
                    if row.campaign_year is not None
                    else None
                ),
            )
            for row in rows
        ]

    async def holds_of(self, elu_id: UUID, *, limit: int) -> list[HoldRecord]:
        """The élu's holds and refused hold requests, newest first."""
        placed = await self.session.execute(
            select(holds).where(holds.c.elu_id == elu_id).order_by(holds.c.created_at.desc()).limit(limit)
        )
        refused = await self.session.execute(
            select(hold_rejections)
            .where(hold_rejections.c.elu_id == elu_id)
            .order_by(hold_rejections.c.rejected_at.desc())
            .limit(limit)
        )
        records = [
            HoldRecord(
                dossier_id=h.dossier_id,
                status=h.status,
                amount_cents=h.amount_cents,
                captured_cents=h.captured_cents,
                purpose=h.purpose,
                training_start=h.training_start,
                training_end=h.training_end,
                hold_id=h.hold_id,
                rejection_reason=None,
                rejection_detail=None,
                at=h.created_at,
                resolved_at=h.resolved_at,
            )
            for h in placed
        ] + [
            HoldRecord(
                dossier_id=r.dossier_id,
                status="rejected",
                amount_cents=r.requested_cents,
                captured_cents=0,
                purpose=None,
                training_start=None,
                training_end=None,
                hold_id=None,
                rejection_reason=r.reason,
                rejection_detail=r.detail,
                at=r.rejected_at,
                resolved_at=None,
            )
            for r in refused
        ]
        return sorted(records, key=lambda record: record.at, reverse=True)[:limit]

    async def _with_mandates(self, rows: Sequence[Row[Any]]) -> list[EluRecord]:
        ids = [row.elu_id for row in rows]
        by_elu: dict[UUID, list[MandateRecord]] = {elu_id: [] for elu_id in ids}
        if ids:
            found = await self.session.execute(
                select(mandates).where(mandates.c.elu_id.in_(ids)).order_by(mandates.c.start_date)
            )
            for m in found:
                by_elu[m.elu_id].append(
                    MandateRecord(
                        mandate_id=m.mandate_id,
                        file_type=RneFileType(m.file_type),
                        family=MandateFamily(m.family),
                        collectivite_code=m.collectivite_code,
                        collectivite_name=m.collectivite_name,
                        function=m.function,
                        start_date=m.start_date,
                        end_date=m.end_date,
                    )
                )
        return [
            EluRecord(
                elu_id=r.elu_id,
                family_name=r.family_name,
                given_names=r.given_names,
                birth_date=r.birth_date,
                sex=r.sex,
                pension_liquidated_on=r.pension_liquidated_on,
                mandates=by_elu[r.elu_id],
            )
            for r in rows
        ]
