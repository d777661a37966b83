"""In-memory stand-ins of the ledger's repositories, for use-case tests without I/O."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from uuid import UUID

from dife_contracts import Event
from rights_ledger.adapters.accounts import AccountState, HoldDesk
from rights_ledger.domain.ledger import Account, Hold, HoldStatus
from rights_ledger.domain.mandates import Mandate


@dataclass
class MemoryAccounts:
    """Accounts, holds and what was saved; ``events`` are the ones the saved accounts recorded."""

    accounts: dict[UUID, Account] = field(default_factory=dict)
    mandates: dict[UUID, list[Mandate]] = field(default_factory=dict)
    pensions: dict[UUID, date] = field(default_factory=dict)
    holds: dict[UUID, Hold] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)

    async def lock(self, elu_id: UUID) -> Account | None:
        found = self.accounts.get(elu_id)
        return None if found is None else replace(found, journal=[], events=[], placed=[], resolved=[])

    async def save(self, account: Account, *, actor: str | None = None) -> None:
        for hold in account.placed:
            self.holds[hold.hold_id] = hold
        self.events.extend(account.events)
        self.accounts[account.elu_id] = replace(account, journal=[], events=[], placed=[], resolved=[])

    async def lock_for_holds(self, elu_ids: Sequence[UUID], dossier_ids: Sequence[UUID]) -> HoldDesk:
        locked = [found for found in [await self.lock(elu_id) for elu_id in elu_ids] if found is not None]
        pending = [await self.pending_hold_of_dossier(dossier_id) for dossier_id in dossier_ids]
        return HoldDesk(
            accounts={account.elu_id: account for account in locked},
            pending_by_dossier={h.terms.dossier_id: h for h in pending if h is not None and h.terms},
            mandates={elu_id: list(self.mandates.get(elu_id, [])) for elu_id in elu_ids},
            pensions={elu_id: self.pensions.get(elu_id) for elu_id in elu_ids},
        )

    async def save_all(self, saved: Sequence[Account], *, actor: str | None = None) -> None:
        for account in saved:
            await self.save(account, actor=actor)

    async def mandates_of(self, elu_id: UUID) -> list[Mandate]:
        return self.mandates.get(elu_id, [])

    async def pension_of(self, elu_id: UUID) -> date | None:
        return self.pensions.get(elu_id)

    async def pending_hold_of_dossier(self, dossier_id: UUID) -> Hold | None:
        for hold in self.holds.values():
            if hold.terms and hold.terms.dossier_id == dossier_id and hold.status is HoldStatus.PENDING:
                return hold
        return None

    async def dossier_hold_resolved(self, dossier_id: UUID) -> bool:
        return any(
            h.terms and h.terms.dossier_id == dossier_id and h.status is not HoldStatus.PENDING
            for h in self.holds.values()
        )

    async def state_of(self, elu_id: UUID) -> AccountState | None:
        account = self.accounts.get(elu_id)
        if account is None:
            return None
        return AccountState(
            elu_id=elu_id,
            status=account.status,
            subject=account.subject,
            balance_cents=account.balance_cents,
            held_cents=account.held_cents,
            pension_liquidated_on=self.pensions.get(elu_id),
            mandates=self.mandates.get(elu_id, []),
        )

    async def linked_subject(self, elu_id: UUID) -> str | None:
        account = self.accounts.get(elu_id)
        return account.subject if account else None

    async def linked_elsewhere(self, *, nir_hash: str, subject: str, elu_id: UUID) -> bool:
        return any(
            (a.nir_hash == nir_hash or a.subject == subject) and a.elu_id != elu_id
            for a in self.accounts.values()
        )
