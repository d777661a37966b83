"""Repository of one élu's account: the locked row, its mandates, its holds, and the journal it appends to."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID

from dife_contracts.enums import MandateFamily
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rights_ledger.adapters.tables import accounts, elus, hold_resolutions, holds, mandates, movements
from rights_ledger.domain.ledger import COUNTERPARTY, Account, Hold, HoldStatus, Movement
from rights_ledger.domain.mandates import AccountStatus, Mandate


@dataclass(frozen=True, slots=True)
class HoldRow:
    hold: Hold
    dossier_id: UUID


class AccountRepository:
    """All queries on one account. ``lock`` takes the row lock that serialises every change of it, so
    concurrent holds on one account are decided one after the other and never overdraw it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def lock(self, elu_id: UUID) -> Account | None:
        row = (
            await self.session.execute(select(accounts).where(accounts.c.elu_id == elu_id).with_for_update())
        ).one_or_none()
        if row is None:
            return None
        return Account(
            elu_id=row.elu_id,
            status=AccountStatus(row.status),
            balance_cents=row.balance_cents,
            held_cents=row.held_cents,
            cap_cents=row.cap_cents,
        )

    async def save(self, account: Account, *, actor: str | None = None) -> None:
        """Write the sums and append the movements the domain recorded (the journal is append-only)."""
        await self.session.execute(
            update(accounts)
            .where(accounts.c.elu_id == account.elu_id)
            .values(
                balance_cents=account.balance_cents,
                held_cents=account.held_cents,
                cap_cents=account.cap_cents,
                updated_at=func.now(),
            )
        )
        if account.journal:
            await self.session.execute(insert(movements), [_movement_row(m, actor) for m in account.journal])
            account.journal.clear()

    async def mandates_of(self, elu_id: UUID) -> list[Mandate]:
        rows = await self.session.execute(
            select(mandates.c.family, mandates.c.start_date, mandates.c.end_date).where(
                mandates.c.elu_id == elu_id
            )
        )
        return [Mandate(MandateFamily(r.family), r.start_date, r.end_date) for r in rows]

    async def pension_of(self, elu_id: UUID) -> date | None:
        value: date | None = await self.session.scalar(
            select(elus.c.pension_liquidated_on).where(elus.c.elu_id == elu_id)
        )
        return value

    async def pending_hold_of_dossier(self, dossier_id: UUID) -> HoldRow | None:
        row = (
            await self.session.execute(
                select(holds)
                .where(holds.c.dossier_id == dossier_id, holds.c.status == HoldStatus.PENDING.value)
                .with_for_update()
            )
        ).one_or_none()
        if row is None:
            return None
        return HoldRow(
            Hold(row.hold_id, row.elu_id, row.amount_cents, str(row.dossier_id), HoldStatus(row.status)),
            row.dossier_id,
        )

    async def insert_hold(
        self, hold: Hold, *, dossier_id: UUID, purpose: str, training_start: date, training_end: date
    ) -> None:
        await self.session.execute(
            insert(holds).values(
                hold_id=hold.hold_id,
                elu_id=hold.elu_id,
                dossier_id=dossier_id,
                amount_cents=hold.amount_cents,
                purpose=purpose,
                training_start=training_start,
                training_end=training_end,
            )
        )

    async def resolve_hold(self, hold: Hold, *, released_cents: int, at: datetime) -> None:
        """Record the one resolution of a hold; its primary key refuses a second one (R-FUN-5)."""
        await self.session.execute(
            insert(hold_resolutions).values(
                hold_id=hold.hold_id,
                outcome=hold.status.value,
                captured_cents=hold.captured_cents,
                released_cents=released_cents,
                resolved_at=at,
            )
        )
        await self.session.execute(
            update(holds)
            .where(holds.c.hold_id == hold.hold_id, holds.c.status == HoldStatus.PENDING.value)
            .values(status=hold.status.value, captured_cents=hold.captured_cents, resolved_at=at)
        )


def _movement_row(movement: Movement, actor: str | None) -> dict[str, object]:
    return {
        "id": movement.id,
        "elu_id": movement.elu_id,
        "kind": movement.kind.value,
        "counterparty": COUNTERPARTY[movement.kind].value,
        "amount_cents": movement.amount_cents,
        "balance_delta_cents": movement.balance_delta_cents,
        "held_delta_cents": movement.held_delta_cents,
        "balance_after_cents": movement.balance_after_cents,
        "held_after_cents": movement.held_after_cents,
        "at": movement.at,
        "reference": movement.reference,
        "hold_id": movement.hold_id,
        "actor": actor,
    }
