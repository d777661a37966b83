"""The small protocols use cases take, so they run on PostgreSQL in the app and on fakes in unit tests
(``servicekit.outbox.Outbox`` for events)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Protocol
from uuid import UUID

from servicekit.outbox import Outbox

from rights_ledger.adapters.accounts import AccountState, HoldDesk
from rights_ledger.adapters.elus import EluRecord, HoldRecord, JournalEntry
from rights_ledger.domain.identity import PersonKey
from rights_ledger.domain.ledger import Account, Hold
from rights_ledger.domain.mandates import Mandate


class Accounts(Protocol):
    """One élu's account, locked for a change, and what deciding on it needs (``AccountRepository``)."""

    async def lock(self, elu_id: UUID) -> Account | None: ...
    async def lock_for_holds(self, elu_ids: Sequence[UUID], dossier_ids: Sequence[UUID]) -> HoldDesk: ...
    async def save(self, account: Account, *, actor: str | None = None) -> None: ...
    async def save_all(self, saved: Sequence[Account], *, actor: str | None = None) -> None: ...
    async def mandates_of(self, elu_id: UUID) -> list[Mandate]: ...
    async def pension_of(self, elu_id: UUID) -> date | None: ...
    async def pending_hold_of_dossier(self, dossier_id: UUID) -> Hold | None: ...
    async def dossier_hold_resolved(self, dossier_id: UUID) -> bool: ...
    async def state_of(self, elu_id: UUID) -> AccountState | None: ...
    async def linked_subject(self, elu_id: UUID) -> str | None: ...
    async def linked_elsewhere(self, *, nir_hash: str, subject: str, elu_id: UUID) -> bool: ...


class Elus(Protocol):
    """The registry's élus as activation, search and the statement read them (``EluRepository``)."""

    async def matching(self, person: PersonKey) -> list[EluRecord]: ...
    async def search(
        self,
        *,
        family_key: str | None,
        given_key: str | None,
        birth_date: date | None,
        after: UUID | None,
        limit: int,
    ) -> list[EluRecord]: ...
    async def get(self, elu_id: UUID) -> EluRecord | None: ...
    async def set_pension(self, elu_id: UUID, liquidated_on: date) -> bool: ...
    async def holds_of(self, elu_id: UUID, *, limit: int) -> list[HoldRecord]: ...
    async def journal_page(
        self, elu_id: UUID, *, after_seq: int | None, limit: int
    ) -> list[JournalEntry]: ...


__all__ = ["Accounts", "Elus", "Outbox"]
