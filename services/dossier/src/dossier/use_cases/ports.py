"""The small protocols use cases take, so they run on fakes in unit tests and on PostgreSQL in the app."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol
from uuid import UUID

from servicekit.clock import Clock
from servicekit.jobs import Scheduler
from servicekit.outbox import Outbox

from dossier.adapters.repository import DossierFilter, FinancedTraining
from dossier.domain.controls import Control, ControlStatus
from dossier.domain.dossier import Dossier
from dossier.domain.eligibility import (
    EluProfile,
    LiveEnrolment,
    MandatePeriod,
    OfferSnapshot,
    SessionSnapshot,
)


class Repository(Protocol):
    async def get(
        self, dossier_id: UUID, *, for_update: bool = False, history: bool = True
    ) -> Dossier | None: ...
    async def add(self, dossier: Dossier) -> None: ...
    async def save(self, dossier: Dossier) -> None: ...
    async def live_enrolments_of(self, elu_id: UUID) -> tuple[LiveEnrolment, ...]: ...
    async def live_dossier_ids_of_session(self, session_id: UUID) -> list[UUID]: ...
    async def take_seat(self, session_id: UUID, seats: int) -> bool: ...
    async def release_seat(self, session_id: UUID) -> None: ...
    async def add_control(self, control: Control) -> None: ...
    async def save_control(self, control: Control) -> None: ...
    async def get_control(self, control_id: UUID, *, for_update: bool = False) -> Control | None: ...
    async def list_controls(
        self, status: ControlStatus | None, *, after: tuple[Any, ...] | None, limit: int
    ) -> list[Control]: ...
    async def elu(self, elu_id: UUID, *, for_update: bool = False) -> EluProfile | None: ...
    async def offer(self, offer_id: UUID) -> OfferSnapshot | None: ...
    async def training_session(self, session_id: UUID) -> SessionSnapshot | None: ...
    async def upsert_elu(
        self,
        elu_id: UUID,
        *,
        names: tuple[str, str] | None = None,
        mandates: Sequence[MandatePeriod] | None = None,
        account_active: bool | None = None,
        pension_liquidated_on: date | None = None,
    ) -> None: ...
    async def upsert_organisme(self, siret: str, name: str) -> None: ...
    async def upsert_offer(
        self, offer: OfferSnapshot, published_at: datetime, offered: Sequence[SessionSnapshot]
    ) -> None: ...
    async def withdraw_offer(self, offer_id: UUID) -> None: ...
    async def cancel_session(self, session_id: UUID) -> None: ...


class Lists(Protocol):
    """The list reads (`adapters/lists.py`: read-only statements outside any transaction)."""

    async def list_dossiers(
        self, where: DossierFilter, *, after: tuple[Any, ...] | None, limit: int
    ) -> list[Dossier]: ...
    async def financed_trainings(
        self,
        *,
        year: int | None,
        department: str | None,
        siret: str | None,
        after: tuple[Any, ...] | None,
        limit: int,
    ) -> list[FinancedTraining]: ...


@dataclass
class Context:
    """What every use case works with, built per transaction by the entry point."""

    repo: Repository
    outbox: Outbox
    scheduler: Scheduler
    clock: Clock
