"""Repository of one élu's account: the locked row, its mandates, its holds, the journal and the events it
appends to (movements and outbox rows are written together, in the caller's transaction)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from dife_contracts.enums import MandateFamily, TrainingPurpose
from dife_contracts.events import HoldRejected
from servicekit.db import transaction_driver
from servicekit.outbox import SessionOutbox
from sqlalchemy import insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rights_ledger.adapters.tables import (
    accounts,
    activation_revocations,
    elus,
    hold_rejections,
    hold_resolutions,
    holds,
    mandates,
)
from rights_ledger.domain.ledger import (
    COUNTERPARTY,
    Account,
    ActivationRevoked,
    Hold,
    HoldStatus,
    HoldTerms,
    Movement,
)
from rights_ledger.domain.mandates import AccountStatus, Mandate


@dataclass(frozen=True, slots=True)
class AccountState:
    """An account as read (not locked), with what its élu's mandates and pension allow."""

    elu_id: UUID
    status: AccountStatus
    subject: str | None
    balance_cents: int
    held_cents: int
    pension_liquidated_on: date | None
    mandates: list[Mandate]


@dataclass(slots=True)
class HoldDesk:
    """What deciding a run of hold requests needs, read once for all of them: the accounts (locked), the
    pending holds of their dossiers (locked), the élus' mandates and pension dates."""

    accounts: dict[UUID, Account]
    pending_by_dossier: dict[UUID, Hold]
    mandates: dict[UUID, list[Mandate]]
    pensions: dict[UUID, date | None]


class AccountRepository:
    """All queries on one account. ``lock`` takes the row lock that serialises every change of it, so
    concurrent holds on one account are decided one after the other and never overdraw it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self._outbox = SessionOutbox(session)

    async def lock(self, elu_id: UUID) -> Account | None:
        row = (
            await self.session.execute(select(accounts).where(accounts.c.elu_id == elu_id).with_for_update())
        ).one_or_none()
        return None if row is None else _account(row._mapping)

    async def lock_for_holds(self, elu_ids: Sequence[UUID], dossier_ids: Sequence[UUID]) -> HoldDesk:
        """Lock the accounts (in élu id order, so two runs never deadlock), then the dossiers' pending holds
        (account first, then hold, as in `lock`), and read the élus' mandates and pensions together: three
        statements for the whole run, on the driver (the hot path of every hold request)."""
        elu_list, dossier_list = sorted(set(elu_ids)), sorted(set(dossier_ids))
        driver = await transaction_driver(self.session)
        locked = await driver.fetch(_LOCK_ACCOUNTS_SQL, elu_list)
        pending = await driver.fetch(_LOCK_PENDING_HOLDS_SQL, dossier_list, HoldStatus.PENDING.value)
        desk = HoldDesk(
            accounts={row["elu_id"]: _account(row) for row in locked},
            pending_by_dossier={row["dossier_id"]: _hold(row) for row in pending},
            mandates={elu_id: [] for elu_id in elu_list},
            pensions={},
        )
        for row in await driver.fetch(_MANDATES_AND_PENSIONS_SQL, elu_list):
            desk.pensions[row["elu_id"]] = row["pension_liquidated_on"]
            if row["family"] is not None:
                desk.mandates[row["elu_id"]].append(
                    Mandate(MandateFamily(row["family"]), row["start_date"], row["end_date"])
                )
        return desk

    async def save(self, account: Account, *, actor: str | None = None) -> None:
        """Write the sums, the holds placed, the movements, the resolutions and the events the domain
        recorded (the journal is append-only), then forget them: saving twice writes nothing twice."""
        await self.save_all([account], actor=actor)

    async def save_all(self, saved: Sequence[Account], *, actor: str | None = None) -> None:
        """`save` for several accounts, one statement per table (the answers to a run of hold requests)."""
        if not saved:
            return
        driver = await transaction_driver(self.session)
        await driver.executemany(_SAVE_ACCOUNT_SQL, [_account_row(account) for account in saved])
        placed = [_hold_row(h) for account in saved for h in account.placed]
        if placed:
            await driver.executemany(_INSERT_HOLD_SQL, placed)
        journal = [_movement_row(m, actor) for account in saved for m in account.journal]
        if journal:
            await driver.executemany(_INSERT_MOVEMENT_SQL, journal)
        revocations = [_revocation_row(r) for account in saved for r in account.revocations]
        if revocations:
            await self.session.execute(insert(activation_revocations), revocations)
        for account in saved:
            for resolution in account.resolved:
                await self._resolve(
                    resolution.hold, released_cents=resolution.released_cents, at=resolution.at
                )
        events = [event for account in saved for event in account.events]
        rejections = [_rejection_row(e) for e in events if isinstance(e, HoldRejected)]
        if rejections:
            await self.session.execute(insert(hold_rejections), rejections)
        await self._outbox.add_many(events)
        for account in saved:
            account.placed.clear()
            account.journal.clear()
            account.resolved.clear()
            account.events.clear()
            account.revocations.clear()

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

    async def state_of(self, elu_id: UUID) -> AccountState | None:
        """The account as this transaction sees it (the read pool would not see an uncommitted change)."""
        row = (
            await self.session.execute(
                select(
                    accounts.c.status,
                    accounts.c.subject,
                    accounts.c.balance_cents,
                    accounts.c.held_cents,
                    elus.c.pension_liquidated_on,
                )
                .join(elus, elus.c.elu_id == accounts.c.elu_id)
                .where(accounts.c.elu_id == elu_id)
            )
        ).one_or_none()
        if row is None:
            return None
        return AccountState(
            elu_id=elu_id,
            status=AccountStatus(row.status),
            subject=row.subject,
            balance_cents=row.balance_cents,
            held_cents=row.held_cents,
            pension_liquidated_on=row.pension_liquidated_on,
            mandates=await self.mandates_of(elu_id),
        )

    async def linked_subject(self, elu_id: UUID) -> str | None:
        """The identity provider's subject linked to the account at activation, if any."""
        subject: str | None = await self.session.scalar(
            select(accounts.c.subject).where(accounts.c.elu_id == elu_id)
        )
        return subject

    async def linked_elsewhere(self, *, nir_hash: str, subject: str, elu_id: UUID) -> bool:
        """R-ACT-1: whether this NIR or this login already activated another account."""
        found = await self.session.scalar(
            select(accounts.c.elu_id)
            .where(
                or_(accounts.c.nir_hash == nir_hash, accounts.c.subject == subject),
                accounts.c.elu_id != elu_id,
            )
            .limit(1)
        )
        return found is not None

    async def pending_hold_of_dossier(self, dossier_id: UUID) -> Hold | None:
        row = (
            await self.session.execute(
                select(holds)
                .where(holds.c.dossier_id == dossier_id, holds.c.status == HoldStatus.PENDING.value)
                .with_for_update()
            )
        ).one_or_none()
        return None if row is None else _hold(row._mapping)

    async def dossier_hold_resolved(self, dossier_id: UUID) -> bool:
        """Whether a hold of this dossier was already captured or released (a late request is a no-op)."""
        found = await self.session.scalar(
            select(holds.c.hold_id)
            .where(holds.c.dossier_id == dossier_id, holds.c.status != HoldStatus.PENDING.value)
            .limit(1)
        )
        return found is not None

    async def _resolve(self, hold: Hold, *, released_cents: int, at: object) -> None:
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


def _account(row: Mapping[Any, Any]) -> Account:
    return Account(
        elu_id=row["elu_id"],
        status=AccountStatus(row["status"]),
        balance_cents=row["balance_cents"],
        held_cents=row["held_cents"],
        cap_cents=row["cap_cents"],
        subject=row["subject"],
        nir_hash=row["nir_hash"],
        activated_at=row["activated_at"],
    )


def _hold(row: Mapping[Any, Any]) -> Hold:
    return Hold(
        row["hold_id"],
        row["elu_id"],
        row["amount_cents"],
        str(row["dossier_id"]),
        HoldStatus(row["status"]),
        terms=HoldTerms(
            row["dossier_id"], TrainingPurpose(row["purpose"]), row["training_start"], row["training_end"]
        ),
    )


_ACCOUNT_COLUMNS = "elu_id, status, subject, nir_hash, balance_cents, held_cents, cap_cents, activated_at"
_HOLD_COLUMNS = "hold_id, elu_id, dossier_id, amount_cents, purpose, training_start, training_end, status"
_LOCK_ACCOUNTS_SQL = (
    f"SELECT {_ACCOUNT_COLUMNS} FROM accounts WHERE elu_id = ANY($1::uuid[]) ORDER BY elu_id FOR UPDATE"
)
_LOCK_PENDING_HOLDS_SQL = (
    f"SELECT {_HOLD_COLUMNS} FROM holds WHERE dossier_id = ANY($1::uuid[]) AND status = $2 "
    "ORDER BY hold_id FOR UPDATE"
)
_MANDATES_AND_PENSIONS_SQL = """
    SELECT e.elu_id, e.pension_liquidated_on, m.family, m.start_date, m.end_date
    FROM elus e LEFT JOIN mandates m ON m.elu_id = e.elu_id
    WHERE e.elu_id = ANY($1::uuid[])
"""
_SAVE_ACCOUNT_SQL = """
    UPDATE accounts SET balance_cents = $2, held_cents = $3, cap_cents = $4, status = $5, subject = $6,
        nir_hash = $7, activated_at = $8, updated_at = now()
    WHERE elu_id = $1
"""
_INSERT_HOLD_SQL = """
    INSERT INTO holds (hold_id, elu_id, dossier_id, amount_cents, purpose, training_start, training_end)
    VALUES ($1, $2, $3, $4, $5, $6, $7)
"""
_MOVEMENT_COLUMNS = (
    "id",
    "elu_id",
    "kind",
    "counterparty",
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
    "campaign_year",
    "campaign_family",
    "adjustment_id",
    "actor",
)
_INSERT_MOVEMENT_SQL = (
    f"INSERT INTO movements ({', '.join(_MOVEMENT_COLUMNS)}) "
    f"VALUES ({', '.join(f'${n}' for n in range(1, len(_MOVEMENT_COLUMNS) + 1))})"
)


def _account_row(account: Account) -> tuple[object, ...]:
    """`_SAVE_ACCOUNT_SQL`'s parameters."""
    return (
        account.elu_id,
        account.balance_cents,
        account.held_cents,
        account.cap_cents,
        account.status.value,
        account.subject,
        account.nir_hash,
        account.activated_at,
    )


def _revocation_row(revocation: ActivationRevoked) -> dict[str, object]:
    return {
        "elu_id": revocation.elu_id,
        "subject": revocation.subject,
        "reason": revocation.reason,
        "revoked_by": revocation.by,
        "revoked_at": revocation.at,
    }


def _rejection_row(event: HoldRejected) -> dict[str, object]:
    return {
        "elu_id": event.elu_id,
        "dossier_id": event.dossier_id,
        "requested_cents": event.requested_cents,
        "reason": event.reason.value,
        "detail": event.detail,
    }


def _hold_row(hold: Hold) -> tuple[object, ...]:
    """`_INSERT_HOLD_SQL`'s parameters."""
    if hold.terms is None:
        raise ValueError("a hold is saved with its terms")
    return (
        hold.hold_id,
        hold.elu_id,
        hold.terms.dossier_id,
        hold.amount_cents,
        hold.terms.purpose.value,
        hold.terms.training_start,
        hold.terms.training_end,
    )


def _movement_row(movement: Movement, actor: str | None) -> tuple[object, ...]:
    """`_INSERT_MOVEMENT_SQL`'s parameters, in `_MOVEMENT_COLUMNS` order."""
    return (
        movement.id,
        movement.elu_id,
        movement.kind.value,
        COUNTERPARTY[movement.kind].value,
        movement.amount_cents,
        movement.balance_delta_cents,
        movement.held_delta_cents,
        movement.balance_after_cents,
        movement.held_after_cents,
        movement.at,
        movement.value_date,
        movement.reference,
        movement.hold_id,
        movement.dossier_id,
        movement.campaign.year if movement.campaign else None,
        movement.campaign.family.value if movement.campaign else None,
        movement.adjustment_id,
        actor,
    )
