"""All of funding's SQL: repositories that take and return domain objects (never rows)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from dife_contracts.enums import FundingSource, TrainingPurpose
from sqlalchemy import and_, func, select, text, tuple_, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from funding.adapters.tables import (
    cofunding_requests,
    collectivite_codes,
    dife_balances,
    elu_mandates,
    envelope_elu_reservations,
    envelopes,
    payment_intents,
    plans,
    psp_notifications,
)
from funding.domain.balances import BalanceChange
from funding.domain.cofunding import DecisionMode, Envelope, EnvelopeStatus
from funding.domain.plan import DossierFacts, FundingPlan, Line, LineStatus, PlanStatus


def _line_to_json(line: Line) -> dict[str, Any]:
    return {
        "source": line.source.value,
        "amount_cents": line.amount_cents,
        "status": line.status.value,
        "reference": line.reference,
        "envelope_id": str(line.envelope_id) if line.envelope_id else None,
        "request_id": str(line.request_id) if line.request_id else None,
        "siren": line.siren,
    }


def _line_from_json(data: dict[str, Any]) -> Line:
    return Line(
        source=FundingSource(data["source"]),
        amount_cents=int(data["amount_cents"]),
        status=LineStatus(data["status"]),
        reference=data.get("reference"),
        envelope_id=UUID(data["envelope_id"]) if data.get("envelope_id") else None,
        request_id=UUID(data["request_id"]) if data.get("request_id") else None,
        siren=data.get("siren"),
    )


class PlanRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, dossier_id: UUID, *, for_update: bool = False) -> FundingPlan | None:
        query = select(plans).where(plans.c.dossier_id == dossier_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).mappings().first()
        if row is None:
            return None
        facts = DossierFacts(
            dossier_id=row["dossier_id"],
            elu_id=row["elu_id"],
            siret=row["siret"],
            purpose=TrainingPurpose(row["purpose"]),
            price_cents=row["price_cents"],
            training_start=row["training_start"],
            training_end=row["training_end"],
            acceptance_deadline=row["acceptance_deadline"],
            theme_code=row["theme_code"],
        )
        status = PlanStatus(row["status"])
        return FundingPlan(
            facts=facts,
            status=status,
            status_when_loaded=status,
            lines=[_line_from_json(line) for line in row["lines"]],
            hold_attempts=row["hold_attempts"],
            failure_reason=row["failure_reason"],
            version=row["version"],
        )

    async def add(self, plan: FundingPlan) -> bool:
        """Insert a new plan; False if the dossier already has one (a second validation event)."""
        facts = plan.facts
        inserted = await self.session.scalar(
            insert(plans)
            .values(
                dossier_id=facts.dossier_id,
                elu_id=facts.elu_id,
                siret=facts.siret,
                purpose=facts.purpose.value,
                price_cents=facts.price_cents,
                training_start=facts.training_start,
                training_end=facts.training_end,
                acceptance_deadline=facts.acceptance_deadline,
                theme_code=facts.theme_code,
                status=plan.status.value,
                lines=[_line_to_json(line) for line in plan.lines],
                hold_attempts=plan.hold_attempts,
                failure_reason=plan.failure_reason,
                version=1,
            )
            .on_conflict_do_nothing()
            .returning(plans.c.dossier_id)
        )
        plan.version = 1
        return inserted is not None

    async def save(self, plan: FundingPlan) -> None:
        await self.session.execute(
            update(plans)
            .where(plans.c.dossier_id == plan.dossier_id)
            .values(
                status=plan.status.value,
                lines=[_line_to_json(line) for line in plan.lines],
                hold_attempts=plan.hold_attempts,
                failure_reason=plan.failure_reason,
                version=plans.c.version + 1,
                updated_at=func.now(),
            )
        )


class BalanceRepository:
    """The read model of each élu's available DIFE (R-FUN-1)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def locked_available(self, elu_id: UUID) -> int:
        """The figure, its row locked so that two plans of one élu are computed one after the other."""
        value = await self.session.scalar(
            select(dife_balances.c.available_cents).where(dife_balances.c.elu_id == elu_id).with_for_update()
        )
        return int(value or 0)

    async def apply(self, elu_id: UUID, change: BalanceChange) -> None:
        """`BalanceChange.applied_to` in one statement (a ledger event costs one round trip)."""
        statement = insert(dife_balances).values(elu_id=elu_id, available_cents=max(0, change.cents))
        current = dife_balances.c.available_cents
        new = change.cents if change.snapshot else current + change.cents
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[dife_balances.c.elu_id],
                set_={"available_cents": func.greatest(0, new), "updated_at": func.now()},
            )
        )

    async def in_flight_cents(self, elu_id: UUID) -> int:
        """DIFE this service already asked the ledger for and the read model cannot know of yet."""
        value = await self.session.scalar(
            text(
                "SELECT coalesce(sum((line->>'amount_cents')::bigint), 0) FROM plans, "
                "jsonb_array_elements(plans.lines) AS line WHERE plans.elu_id = :elu_id "
                "AND plans.status = 'proposed' AND line->>'source' = 'dife' AND line->>'status' = 'pending'"
            ),
            {"elu_id": elu_id},
        )
        return int(value or 0)


class MandateRepository:
    """The élus' mandates as the ledger last described them (for R-FUN-2: which collectivités)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def replace(self, elu_id: UUID, mandates: Sequence[tuple[str, date, date | None]]) -> None:
        rows = [
            {"code": code, "start": start.isoformat(), "end": end.isoformat() if end else None}
            for code, start, end in mandates
        ]
        statement = insert(elu_mandates).values(elu_id=elu_id, mandates=rows)
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[elu_mandates.c.elu_id],
                set_={"mandates": statement.excluded.mandates, "updated_at": func.now()},
            )
        )

    async def of(self, elu_id: UUID) -> list[tuple[str, date, date | None]]:
        rows = await self.session.scalar(
            select(elu_mandates.c.mandates).where(elu_mandates.c.elu_id == elu_id)
        )
        return [
            (m["code"], date.fromisoformat(m["start"]), date.fromisoformat(m["end"]) if m["end"] else None)
            for m in rows or []
        ]


def _envelope(row: Any) -> Envelope:
    return Envelope(
        envelope_id=row["envelope_id"],
        siren=row["siren"],
        collectivite_code=row["collectivite_code"],
        deliberation_reference=row["deliberation_reference"],
        deliberation_date=row["deliberation_date"],
        budget_cents=row["budget_cents"],
        per_elu_ceiling_cents=row["per_elu_ceiling_cents"],
        valid_from=row["valid_from"],
        valid_until=row["valid_until"],
        decision_mode=DecisionMode(row["decision_mode"]),
        themes=list(row["themes"]),
        status=EnvelopeStatus(row["status"]),
        reserved_cents=row["reserved_cents"],
    )


@dataclass(frozen=True)
class EnvelopeWithCreation:
    envelope: Envelope
    created_at: datetime


class EnvelopeRepository:
    """Envelopes and their reservations. Reserving locks the envelope row, then the élu's row, always in that
    order and envelopes by id, so concurrent plans queue instead of overspending (R-FUN-2); the CHECK
    constraints refuse any write that would overspend anyway."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, envelope: Envelope) -> None:
        await self.session.execute(
            insert(envelopes).values(
                envelope_id=envelope.envelope_id,
                siren=envelope.siren,
                collectivite_code=envelope.collectivite_code,
                deliberation_reference=envelope.deliberation_reference,
                deliberation_date=envelope.deliberation_date,
                budget_cents=envelope.budget_cents,
                per_elu_ceiling_cents=envelope.per_elu_ceiling_cents,
                valid_from=envelope.valid_from,
                valid_until=envelope.valid_until,
                decision_mode=envelope.decision_mode.value,
                themes=envelope.themes,
                status=envelope.status.value,
                reserved_cents=envelope.reserved_cents,
            )
        )

    async def get(self, envelope_id: UUID, *, for_update: bool = False) -> Envelope | None:
        query = select(envelopes).where(envelopes.c.envelope_id == envelope_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).mappings().first()
        return _envelope(row) if row else None

    async def list_of(
        self, siren: str | None, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[EnvelopeWithCreation]:
        query = select(envelopes).order_by(envelopes.c.created_at, envelopes.c.envelope_id).limit(limit)
        if siren is not None:
            query = query.where(envelopes.c.siren == siren)
        if after is not None:
            query = query.where(tuple_(envelopes.c.created_at, envelopes.c.envelope_id) > tuple_(*after))
        rows = (await self.session.execute(query)).mappings().all()
        return [EnvelopeWithCreation(_envelope(row), row["created_at"]) for row in rows]

    async def set_status(self, envelope: Envelope) -> None:
        await self.session.execute(
            update(envelopes)
            .where(envelopes.c.envelope_id == envelope.envelope_id)
            .values(status=envelope.status.value)
        )

    async def lock_candidates(self, codes: Sequence[str], start: date, end: date) -> list[Envelope]:
        """Open envelopes of these collectivités covering the training, locked, in id order."""
        if not codes:
            return []
        query = (
            select(envelopes)
            .where(
                envelopes.c.collectivite_code.in_(list(codes)),
                envelopes.c.status == EnvelopeStatus.OPEN.value,
                envelopes.c.valid_from <= start,
                envelopes.c.valid_until >= end,
            )
            .order_by(envelopes.c.envelope_id)
            .with_for_update()
        )
        rows = (await self.session.execute(query)).mappings().all()
        return [_envelope(row) for row in rows]

    async def elu_reserved(self, envelope_ids: Sequence[UUID], elu_id: UUID) -> dict[UUID, int]:
        if not envelope_ids:
            return {}
        query = (
            select(envelope_elu_reservations.c.envelope_id, envelope_elu_reservations.c.reserved_cents)
            .where(
                envelope_elu_reservations.c.envelope_id.in_(list(envelope_ids)),
                envelope_elu_reservations.c.elu_id == elu_id,
            )
            .order_by(envelope_elu_reservations.c.envelope_id)
            .with_for_update()
        )
        return {row.envelope_id: row.reserved_cents for row in await self.session.execute(query)}

    async def reserve(self, envelope: Envelope, elu_id: UUID, amount_cents: int) -> None:
        await self.session.execute(
            update(envelopes)
            .where(envelopes.c.envelope_id == envelope.envelope_id)
            .values(reserved_cents=envelopes.c.reserved_cents + amount_cents)
        )
        statement = insert(envelope_elu_reservations).values(
            envelope_id=envelope.envelope_id,
            elu_id=elu_id,
            ceiling_cents=envelope.per_elu_ceiling_cents,
            reserved_cents=amount_cents,
        )
        await self.session.execute(
            statement.on_conflict_do_update(
                index_elements=[envelope_elu_reservations.c.envelope_id, envelope_elu_reservations.c.elu_id],
                set_={"reserved_cents": envelope_elu_reservations.c.reserved_cents + amount_cents},
            )
        )

    async def give_back(self, envelope_id: UUID, elu_id: UUID, amount_cents: int) -> None:
        """Money reserved and not used returns to the envelope and to the élu's ceiling (R-FUN-2)."""
        if amount_cents <= 0:
            return
        await self.session.execute(
            update(envelopes)
            .where(envelopes.c.envelope_id == envelope_id)
            .values(reserved_cents=envelopes.c.reserved_cents - amount_cents)
        )
        await self.session.execute(
            update(envelope_elu_reservations)
            .where(
                and_(
                    envelope_elu_reservations.c.envelope_id == envelope_id,
                    envelope_elu_reservations.c.elu_id == elu_id,
                )
            )
            .values(reserved_cents=envelope_elu_reservations.c.reserved_cents - amount_cents)
        )


class CodeOwnerRepository:
    """Which SIREN owns each collectivité code (commune INSEE code, département, région): registered by
    agents, read when a collectivité publishes an envelope (R-FUN-2)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def owner_of(self, collectivite_code: str) -> str | None:
        value = await self.session.scalar(
            select(collectivite_codes.c.siren).where(
                collectivite_codes.c.collectivite_code == collectivite_code
            )
        )
        return str(value) if value is not None else None

    async def register(self, collectivite_code: str, siren: str, registered_by: str) -> str:
        """Record the owner unless the code has one already; returns the code's owner after the call."""
        await self.session.execute(
            insert(collectivite_codes)
            .values(collectivite_code=collectivite_code, siren=siren, registered_by=registered_by)
            .on_conflict_do_nothing()
        )
        owner = await self.owner_of(collectivite_code)
        assert owner is not None
        return owner


@dataclass
class CofundingRequest:
    request_id: UUID
    envelope_id: UUID
    dossier_id: UUID
    elu_id: UUID
    siren: str
    requested_cents: int
    granted_cents: int | None
    status: str
    created_at: datetime | None = None


class RequestRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, request: CofundingRequest) -> None:
        await self.session.execute(
            insert(cofunding_requests).values(
                request_id=request.request_id,
                envelope_id=request.envelope_id,
                dossier_id=request.dossier_id,
                elu_id=request.elu_id,
                siren=request.siren,
                requested_cents=request.requested_cents,
                granted_cents=request.granted_cents,
                status=request.status,
                decided_at=func.now() if request.status != "pending" else None,
            )
        )

    async def get(self, request_id: UUID) -> CofundingRequest | None:
        row = (
            (
                await self.session.execute(
                    select(cofunding_requests).where(cofunding_requests.c.request_id == request_id)
                )
            )
            .mappings()
            .first()
        )
        return _request(row) if row else None

    async def envelopes_asked(self, dossier_id: UUID) -> set[UUID]:
        """Envelopes a dossier already asked (whatever the answer): one request per envelope and dossier."""
        rows = await self.session.scalars(
            select(cofunding_requests.c.envelope_id).where(cofunding_requests.c.dossier_id == dossier_id)
        )
        return set(rows)

    async def set_status(self, request_id: UUID, status: str, granted_cents: int | None = None) -> None:
        values: dict[str, Any] = {"status": status, "decided_at": func.now()}
        if granted_cents is not None:
            values["granted_cents"] = granted_cents
        await self.session.execute(
            update(cofunding_requests).where(cofunding_requests.c.request_id == request_id).values(**values)
        )

    async def set_amounts(self, request_id: UUID, requested_cents: int, granted_cents: int | None) -> None:
        """A request grown to cover a DIFE gap (R-FUN-2): the amount asked, and granted if automatic."""
        await self.session.execute(
            update(cofunding_requests)
            .where(cofunding_requests.c.request_id == request_id)
            .values(requested_cents=requested_cents, granted_cents=granted_cents)
        )

    async def list_of(
        self, siren: str | None, status: str | None, after: tuple[datetime, UUID] | None, limit: int
    ) -> list[CofundingRequest]:
        query = (
            select(cofunding_requests)
            .order_by(cofunding_requests.c.created_at, cofunding_requests.c.request_id)
            .limit(limit)
        )
        if siren is not None:
            query = query.where(cofunding_requests.c.siren == siren)
        if status is not None:
            query = query.where(cofunding_requests.c.status == status)
        if after is not None:
            query = query.where(
                tuple_(cofunding_requests.c.created_at, cofunding_requests.c.request_id) > tuple_(*after)
            )
        return [_request(row) for row in (await self.session.execute(query)).mappings().all()]


def _request(row: Any) -> CofundingRequest:
    return CofundingRequest(
        request_id=row["request_id"],
        envelope_id=row["envelope_id"],
        dossier_id=row["dossier_id"],
        elu_id=row["elu_id"],
        siren=row["siren"],
        requested_cents=row["requested_cents"],
        granted_cents=row["granted_cents"],
        status=row["status"],
        created_at=row["created_at"],
    )


@dataclass
class PaymentIntent:
    intent_id: UUID
    dossier_id: UUID
    elu_id: UUID
    amount_cents: int
    status: str
    provider_reference: str | None = None


class PaymentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, intent: PaymentIntent) -> None:
        await self.session.execute(
            insert(payment_intents).values(
                intent_id=intent.intent_id,
                dossier_id=intent.dossier_id,
                elu_id=intent.elu_id,
                amount_cents=intent.amount_cents,
                status=intent.status,
            )
        )

    async def get(self, intent_id: UUID, *, for_update: bool = False) -> PaymentIntent | None:
        query = select(payment_intents).where(payment_intents.c.intent_id == intent_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).mappings().first()
        return _intent(row) if row else None

    async def pending_of(self, dossier_id: UUID) -> list[PaymentIntent]:
        query = select(payment_intents).where(
            payment_intents.c.dossier_id == dossier_id, payment_intents.c.status == "pending"
        )
        return [_intent(row) for row in (await self.session.execute(query)).mappings().all()]

    async def set_status(self, intent_id: UUID, status: str, provider_reference: str | None = None) -> None:
        await self.session.execute(
            update(payment_intents)
            .where(payment_intents.c.intent_id == intent_id)
            .values(status=status, provider_reference=provider_reference)
        )

    async def record_notification(self, notification_id: str, intent_id: UUID, amount_cents: int) -> bool:
        """True the first time a provider notification id is seen; False on a replay (R-FUN-4)."""
        inserted = await self.session.scalar(
            insert(psp_notifications)
            .values(notification_id=notification_id, intent_id=intent_id, amount_cents=amount_cents)
            .on_conflict_do_nothing()
            .returning(psp_notifications.c.notification_id)
        )
        return inserted is not None


def _intent(row: Any) -> PaymentIntent:
    return PaymentIntent(
        intent_id=row["intent_id"],
        dossier_id=row["dossier_id"],
        elu_id=row["elu_id"],
        amount_cents=row["amount_cents"],
        status=row["status"],
        provider_reference=row["provider_reference"],
    )
