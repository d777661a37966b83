"""Activation, reading and correcting an account; registering a pension.

Rules R-ACT-1, R-REG-3, R-ACC-2, R-END-1.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from dife_contracts.events import AccountActivated, AccountAdjusted
from servicekit.auth import Principal
from servicekit.errors import Conflict, NotFound, RuleBroken, RuleViolation
from servicekit.outbox import enqueue
from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from rights_ledger.adapters.accounts import AccountRepository
from rights_ledger.adapters.reads import AccountReader
from rights_ledger.adapters.tables import accounts, elus, mandates, movements
from rights_ledger.domain.identity import normalise_name
from rights_ledger.domain.ledger import LedgerError
from rights_ledger.domain.mandates import (
    AccountStatus,
    Mandate,
    mandate_training_allowed,
    reinsertion_until,
)
from rights_ledger.domain.nir import InvalidNir, nir_hash
from rights_ledger.domain.parameters import parameters_at
from rights_ledger.use_cases import SOURCE


def _ensure_owner_of(principal: Principal, elu_id: UUID, linked_subject: str | None) -> None:
    """R-ACT-1: staff see any account; an élu only their own, named by the token (``sub`` or the ``elu_id``
    claim: `Principal.ensure_elu`) or by the identity provider's subject linked to it at activation."""
    if linked_subject is not None and principal.has_role("elu") and principal.sub == linked_subject:
        return
    principal.ensure_elu(elu_id)


async def ensure_owner(session: AsyncSession, principal: Principal, elu_id: UUID) -> None:
    if principal.is_staff or principal.elu_id == str(elu_id):
        return
    linked = None
    if principal.has_role("elu"):
        linked = await session.scalar(select(accounts.c.subject).where(accounts.c.elu_id == elu_id))
    _ensure_owner_of(principal, elu_id, linked)


@dataclass(frozen=True, slots=True)
class AccountView:
    elu_id: UUID
    status: str
    balance_cents: int
    held_cents: int
    available_cents: int
    cap_cents: int
    mandate_training_allowed: bool
    reinsertion_until: date | None


async def read_own_account(
    reader: AccountReader, principal: Principal, elu_id: UUID, today: date
) -> AccountView:
    """The account as its élu or staff sees it. Nothing tells an élu whether another élu's account exists:
    the ownership check comes first, so both answers are 403."""
    row = await reader.account(elu_id)
    _ensure_owner_of(principal, elu_id, row.subject if row else None)
    if row is None:
        raise NotFound("no account for this élu")
    return _view(
        elu_id, row.status, row.balance_cents, row.held_cents, row.mandates, row.pension_liquidated_on, today
    )


async def read_account(session: AsyncSession, elu_id: UUID, today: date) -> AccountView:
    row = (
        await session.execute(
            select(
                accounts.c.status,
                accounts.c.balance_cents,
                accounts.c.held_cents,
                elus.c.pension_liquidated_on,
            )
            .join(elus, elus.c.elu_id == accounts.c.elu_id)
            .where(accounts.c.elu_id == elu_id)
        )
    ).one_or_none()
    if row is None:
        raise NotFound("no account for this élu")
    held = await AccountRepository(session).mandates_of(elu_id)
    return _view(
        elu_id, row.status, row.balance_cents, row.held_cents, held, row.pension_liquidated_on, today
    )


def _view(
    elu_id: UUID,
    status: str,
    balance: int,
    held: int,
    mandate_list: list[Mandate],
    pension: date | None,
    today: date,
) -> AccountView:
    active = status == AccountStatus.ACTIVE
    return AccountView(
        elu_id=elu_id,
        status=status,
        balance_cents=balance,
        held_cents=held,
        available_cents=balance - held,
        cap_cents=parameters_at(today).cap_cents,
        mandate_training_allowed=active and mandate_training_allowed(mandate_list, today),
        reinsertion_until=reinsertion_until(mandate_list, pension),
    )


async def activate(
    session: AsyncSession,
    principal: Principal,
    *,
    nir: str,
    family_name: str,
    given_names: str,
    birth_date: date,
    nir_key: bytes,
) -> AccountView:
    """R-ACT-1 / R-REG-3: a valid NIR and an identity matching exactly one élu link it to the caller."""
    try:
        digest = nir_hash(nir, nir_key)
    except InvalidNir as error:
        raise RuleViolation(rules=RuleBroken("R-REG-3", str(error))) from None
    family_key, given_key = normalise_name(family_name), normalise_name(given_names)
    matches = (
        (
            await session.execute(
                select(elus.c.elu_id).where(
                    elus.c.family_key == family_key,
                    elus.c.given_key == given_key,
                    elus.c.birth_date == birth_date,
                )
            )
        )
        .scalars()
        .all()
    )
    if len(matches) != 1:
        found = "no élu" if not matches else f"{len(matches)} élus"
        raise RuleViolation(
            rules=RuleBroken("R-ACT-1", f"the identity matches {found} of the registry, not one")
        )
    elu_id = matches[0]
    row = (await session.execute(select(accounts).where(accounts.c.elu_id == elu_id).with_for_update())).one()
    if row.status == AccountStatus.ACTIVE:
        if row.subject == principal.sub and row.nir_hash == digest:
            return await read_account(session, elu_id, datetime.now(UTC).date())
        raise Conflict(
            "this account is already activated", rules=[RuleBroken("R-ACT-1", "already activated")]
        )
    taken = await session.scalar(
        select(accounts.c.elu_id).where(
            or_(accounts.c.nir_hash == digest, accounts.c.subject == principal.sub),
            accounts.c.elu_id != elu_id,
        )
    )
    if taken is not None:
        raise Conflict(
            "this NIR or this login is already linked to another account",
            rules=[RuleBroken("R-ACT-1", "one NIR and one login per account")],
        )
    now = datetime.now(UTC)
    await session.execute(
        update(accounts)
        .where(accounts.c.elu_id == elu_id)
        .values(status=AccountStatus.ACTIVE.value, subject=principal.sub, nir_hash=digest, activated_at=now)
    )
    await enqueue(session, AccountActivated(elu_id=elu_id, activated_at=now), source=SOURCE)
    return await read_account(session, elu_id, now.date())


async def adjust(
    session: AsyncSession, principal: Principal, elu_id: UUID, *, amount_cents: int, reason: str
) -> dict[str, Any]:
    """Audited correction by an agent: never below the holds (so never below 0), never above the cap."""
    repo = AccountRepository(session)
    account = await repo.lock(elu_id)
    if account is None:
        raise NotFound("no account for this élu")
    now = datetime.now(UTC)
    try:
        movement = account.adjust(amount_cents, parameters_at(now.date()).cap_cents, now, reason)
    except LedgerError as error:
        raise RuleViolation(rules=RuleBroken(error.rule, error.detail)) from None
    await repo.save(account, actor=principal.sub)
    await enqueue(
        session,
        AccountAdjusted(
            elu_id=elu_id,
            amount_cents=amount_cents,
            reason=reason,
            balance_after_cents=account.balance_cents,
            by=principal.sub,
        ),
        source=SOURCE,
    )
    return {"movement_id": movement.id, "balance_after_cents": account.balance_cents}


async def record_pension(session: AsyncSession, elu_id: UUID, liquidated_on: date) -> None:
    """R-END-1: a liquidated pension closes the reinsertion window."""
    result = await session.execute(
        update(elus).where(elus.c.elu_id == elu_id).values(pension_liquidated_on=liquidated_on)
    )
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound("no such élu")


async def movements_page(
    session: AsyncSession, elu_id: UUID, *, after_seq: int | None, limit: int
) -> list[Any]:
    query = select(movements).where(movements.c.elu_id == elu_id)
    if after_seq is not None:
        query = query.where(movements.c.seq > after_seq)
    return list((await session.execute(query.order_by(movements.c.seq).limit(limit + 1))).all())


async def find_elus(
    session: AsyncSession,
    *,
    family_name: str | None,
    given_names: str | None,
    birth_date: date | None,
    after: UUID | None,
    limit: int,
) -> list[Any]:
    conditions = []
    if family_name:
        conditions.append(elus.c.family_key == normalise_name(family_name))
    if given_names:
        conditions.append(elus.c.given_key == normalise_name(given_names))
    if birth_date:
        conditions.append(elus.c.birth_date == birth_date)
    if after is not None:
        conditions.append(elus.c.elu_id > after)
    query = select(elus).where(and_(*conditions)) if conditions else select(elus)
    return list((await session.execute(query.order_by(elus.c.elu_id).limit(limit + 1))).all())


async def find_elus_by_id(session: AsyncSession, elu_id: UUID) -> list[Any]:
    return list((await session.execute(select(elus).where(elus.c.elu_id == elu_id))).all())


async def mandates_by_elu(session: AsyncSession, elu_ids: list[UUID]) -> dict[UUID, list[Any]]:
    result: dict[UUID, list[Any]] = {elu_id: [] for elu_id in elu_ids}
    if not elu_ids:
        return result
    rows = await session.execute(
        select(mandates).where(mandates.c.elu_id.in_(elu_ids)).order_by(mandates.c.start_date)
    )
    for row in rows:
        result[row.elu_id].append(row)
    return result


async def count_elus(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.count()).select_from(elus)) or 0)
