"""The dossier repository: every query of the service, returning domain objects (never rows).

Submissions serialise per élu (the élu's read-model row is locked FOR UPDATE, so two concurrent requests
cannot both pass the overlap check) and take a seat with a conditional UPDATE (R-OFR-4: the seat is taken
only while `seats_taken < seats`, so 20 concurrent requests on 15 seats never take a 16th).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from dife_contracts.enums import DossierStatus, TrainingPurpose
from sqlalchemy import ColumnElement, and_, bindparam, func, select, true, tuple_, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from dossier.adapters.tables import (
    controls,
    dossier_transitions,
    dossiers,
    elus,
    offers,
    organismes,
    sessions,
)
from dossier.domain.controls import Control, ControlKind, ControlStatus
from dossier.domain.dossier import (
    Actor,
    Dossier,
    Evaluation,
    FundingPlan,
    PlanLineView,
    PlanStatus,
    Transition,
)
from dossier.domain.eligibility import (
    EluProfile,
    LiveEnrolment,
    MandatePeriod,
    OfferSnapshot,
    SessionSnapshot,
)
from dossier.domain.statuses import LIVE_STATUSES, Action

_LIVE = [status.value for status in LIVE_STATUSES]

_SCALAR_FIELDS = (
    "elu_id",
    "offer_id",
    "session_id",
    "siret",
    "price_cents",
    "hours",
    "training_start",
    "training_end",
    "offer_title",
    "theme_code",
    "organisme_name",
    "department",
    "submitted_at",
    "answer_by",
    "accept_by",
    "entry_on",
    "entry_declared_late",
    "exit_on",
    "exit_declared_late",
    "hours_attended",
    "realisation_percent",
    "service_done_declared_on",
    "auto_validation_on",
    "open_control_id",
    "rights_consumed",
    "amount_paid_cents",
)


# Statements built once: building them per call (`.values(**columns)`, `.where(...)`) made SQLAlchemy
# recompute their cache keys over every column each time (issue 13). Values are bound at execution.
_GET = select(dossiers).where(dossiers.c.dossier_id == bindparam("id"))
_GET_FOR_UPDATE = _GET.with_for_update()
_HISTORY = (
    select(dossier_transitions)
    .where(dossier_transitions.c.dossier_id == bindparam("id"))
    .order_by(dossier_transitions.c.id)
)
_SAVE = (
    update(dossiers).where(dossiers.c.dossier_id == bindparam("b_dossier_id")).values(updated_at=func.now())
)


@dataclass(frozen=True)
class DossierFilter:
    """What a list may be narrowed to; ownership filters (elu_id, siret) are set from the token."""

    status: DossierStatus | None = None
    siret: str | None = None
    elu_id: UUID | None = None
    start_from: date | None = None
    start_to: date | None = None
    late_only: bool = False


@dataclass(frozen=True)
class FinancedTraining:
    """One line of the public list (R-PUB-1): exactly what the law makes public, nothing else."""

    family_name: str
    given_names: str
    cost_cents: int
    title: str
    theme_code: str | None
    organisme_name: str | None
    siret: str
    training_start: date
    training_end: date
    sort_key: tuple[date, UUID]


def _plan_json(plan: FundingPlan | None) -> dict[str, Any] | None:
    if plan is None:
        return None
    return {
        "status": plan.status.value,
        "reason": plan.reason,
        "at": plan.at.isoformat() if plan.at else None,
        "lines": [
            {"source": line.source, "amount_cents": line.amount_cents, "reference": line.reference}
            for line in plan.lines
        ],
    }


def _plan_of(raw: dict[str, Any] | None) -> FundingPlan | None:
    if raw is None:
        return None
    return FundingPlan(
        status=PlanStatus(raw["status"]),
        reason=raw.get("reason"),
        at=datetime.fromisoformat(raw["at"]) if raw.get("at") else None,
        lines=tuple(
            PlanLineView(line["source"], int(line["amount_cents"]), line.get("reference"))
            for line in raw.get("lines", [])
        ),
    )


def _evaluation_json(evaluation: Evaluation | None) -> dict[str, Any] | None:
    if evaluation is None:
        return None
    return {"rating": evaluation.rating, "comment": evaluation.comment, "at": evaluation.at.isoformat()}


def _evaluation_of(raw: dict[str, Any] | None) -> Evaluation | None:
    if raw is None:
        return None
    return Evaluation(rating=raw["rating"], comment=raw["comment"], at=datetime.fromisoformat(raw["at"]))


def _values(dossier: Dossier) -> dict[str, Any]:
    values = {name: getattr(dossier, name) for name in _SCALAR_FIELDS}
    values.update(
        status=dossier.status.value,
        purpose=dossier.purpose.value,
        plan=_plan_json(dossier.plan),
        evaluation=_evaluation_json(dossier.evaluation),
    )
    return values


def dossier_of(mapping: Mapping[Any, Any], history: list[Transition]) -> Dossier:
    """A dossier from its row's columns (`plan` and `evaluation` decoded from JSON)."""
    return Dossier(
        dossier_id=mapping["dossier_id"],
        status=DossierStatus(mapping["status"]),
        purpose=TrainingPurpose(mapping["purpose"]),
        plan=_plan_of(mapping["plan"]),
        evaluation=_evaluation_of(mapping["evaluation"]),
        history=history,
        **{name: mapping[name] for name in _SCALAR_FIELDS},
    )


def _transition_of(row: Any) -> Transition:
    return Transition(
        at=row.at,
        action=Action(row.action),
        from_status=DossierStatus(row.from_status) if row.from_status else None,
        to_status=DossierStatus(row.to_status),
        actor=Actor(row.actor_role, row.actor_subject),
        reason=row.reason,
        event_type=row.event_type,
    )


def _mandates_json(mandates: Sequence[MandatePeriod]) -> list[dict[str, str | None]]:
    return [{"start": m.start.isoformat(), "end": m.end.isoformat() if m.end else None} for m in mandates]


class SqlRepository:
    """Dossiers, controls and the read models, on one `AsyncSession` (the caller owns the transaction)."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    # ---- dossiers ------------------------------------------------------------------------------------

    async def get(
        self, dossier_id: UUID, *, for_update: bool = False, history: bool = True
    ) -> Dossier | None:
        """`history=False`: the caller shows no history (consumers, timers), so it is not read (one
        statement fewer); `Dossier.history` is then empty, and `save` still appends only the new steps."""
        query = _GET_FOR_UPDATE if for_update else _GET
        row = (await self.session.execute(query, {"id": dossier_id})).first()
        if row is None:
            return None
        steps = (await self.session.execute(_HISTORY, {"id": dossier_id})) if history else ()
        return dossier_of(row._mapping, [_transition_of(step) for step in steps])

    async def add(self, dossier: Dossier) -> None:
        await self.session.execute(dossiers.insert(), {"dossier_id": dossier.dossier_id, **_values(dossier)})
        await self._write_history(dossier)

    async def save(self, dossier: Dossier) -> None:
        await self.session.execute(_SAVE, {"b_dossier_id": dossier.dossier_id, **_values(dossier)})
        await self._write_history(dossier)

    async def _write_history(self, dossier: Dossier) -> None:
        """One parameter set per step; a single step (the usual case) is one plain INSERT, not a batch."""
        if not dossier.new_history:
            return
        rows = [
            {
                "dossier_id": dossier.dossier_id,
                "at": step.at,
                "action": step.action.value,
                "from_status": step.from_status.value if step.from_status else None,
                "to_status": step.to_status.value,
                "actor_role": step.actor.role,
                "actor_subject": step.actor.subject,
                "reason": step.reason,
                "event_type": step.event_type,
            }
            for step in dossier.new_history
        ]
        await self.session.execute(dossier_transitions.insert(), rows[0] if len(rows) == 1 else rows)
        dossier.new_history.clear()

    async def live_enrolments_of(self, elu_id: UUID) -> tuple[LiveEnrolment, ...]:
        rows = await self.session.execute(
            select(dossiers.c.dossier_id, dossiers.c.training_start, dossiers.c.training_end).where(
                dossiers.c.elu_id == elu_id, dossiers.c.status.in_(_LIVE)
            )
        )
        return tuple(LiveEnrolment(row.dossier_id, row.training_start, row.training_end) for row in rows)

    async def live_dossier_ids_of_session(self, session_id: UUID) -> list[UUID]:
        rows = await self.session.scalars(
            select(dossiers.c.dossier_id)
            .where(dossiers.c.session_id == session_id, dossiers.c.status.in_(_LIVE))
            .order_by(dossiers.c.dossier_id)
        )
        return list(rows)

    # ---- seats (R-OFR-4) -----------------------------------------------------------------------------

    async def take_seat(self, session_id: UUID, seats: int) -> bool:
        """R-OFR-4: one more live enrolment, only if a seat is left (a conditional UPDATE, no race)."""
        taken = await self.session.scalar(
            update(sessions)
            .where(sessions.c.session_id == session_id, sessions.c.seats_taken < seats)
            .values(seats_taken=sessions.c.seats_taken + 1)
            .returning(sessions.c.seats_taken)
        )
        return taken is not None

    async def release_seat(self, session_id: UUID) -> None:
        await self.session.execute(
            update(sessions)
            .where(sessions.c.session_id == session_id, sessions.c.seats_taken > 0)
            .values(seats_taken=sessions.c.seats_taken - 1)
        )

    # ---- controls (R-DOS-4) --------------------------------------------------------------------------

    async def add_control(self, control: Control) -> None:
        await self.session.execute(controls.insert().values(**_control_values(control)))

    async def save_control(self, control: Control) -> None:
        await self.session.execute(
            update(controls)
            .where(controls.c.control_id == control.control_id)
            .values(**_control_values(control))
        )

    async def get_control(self, control_id: UUID, *, for_update: bool = False) -> Control | None:
        query = select(controls).where(controls.c.control_id == control_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        return None if row is None else _control_of(row)

    async def list_controls(
        self, status: ControlStatus | None, *, after: tuple[Any, ...] | None, limit: int
    ) -> list[Control]:
        conditions: list[ColumnElement[bool]] = []
        if status is not None:
            conditions.append(controls.c.status == status.value)
        if after is not None:
            conditions.append(tuple_(controls.c.opened_at, controls.c.control_id) > tuple_(*after))
        rows = await self.session.execute(
            select(controls)
            .where(and_(true(), *conditions))
            .order_by(controls.c.opened_at, controls.c.control_id)
            .limit(limit + 1)
        )
        return [_control_of(row) for row in rows]

    # ---- read models ---------------------------------------------------------------------------------

    async def elu(self, elu_id: UUID, *, for_update: bool = False) -> EluProfile | None:
        query = select(elus).where(elus.c.elu_id == elu_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.session.execute(query)).first()
        if row is None:
            return None
        return EluProfile(
            elu_id=row.elu_id,
            family_name=row.family_name,
            given_names=row.given_names,
            account_active=row.account_active,
            mandates=tuple(
                MandatePeriod(
                    date.fromisoformat(m["start"]), date.fromisoformat(m["end"]) if m["end"] else None
                )
                for m in row.mandates
            ),
            pension_liquidated_on=row.pension_liquidated_on,
        )

    async def offer(self, offer_id: UUID) -> OfferSnapshot | None:
        row = (
            await self.session.execute(
                select(offers, organismes.c.name.label("organisme_name"))
                .outerjoin(organismes, organismes.c.siret == offers.c.siret)
                .where(offers.c.offer_id == offer_id)
            )
        ).first()
        if row is None:
            return None
        return OfferSnapshot(
            offer_id=row.offer_id,
            siret=row.siret,
            kind=TrainingPurpose(row.kind),
            title=row.title,
            theme_code=row.theme_code,
            hours=Decimal(row.hours),
            price_cents=row.price_cents,
            department=row.department,
            organisme_name=row.organisme_name,
            published=row.published,
        )

    async def training_session(self, session_id: UUID) -> SessionSnapshot | None:
        row = (
            await self.session.execute(select(sessions).where(sessions.c.session_id == session_id))
        ).first()
        if row is None:
            return None
        return SessionSnapshot(
            session_id=row.session_id,
            offer_id=row.offer_id,
            start=row.start_date,
            end=row.end_date,
            capacity=row.capacity,
            seats_taken=row.seats_taken,
            cancelled=row.cancelled,
        )

    async def upsert_elu(
        self,
        elu_id: UUID,
        *,
        names: tuple[str, str] | None = None,
        mandates: Sequence[MandatePeriod] | None = None,
        account_active: bool | None = None,
        pension_liquidated_on: date | None = None,
    ) -> None:
        """Create the élu when its first event arrives, then change only what this event tells."""
        changes: dict[str, Any] = {}
        if names is not None:
            changes.update(family_name=names[0], given_names=names[1])
        if mandates is not None:
            changes["mandates"] = _mandates_json(mandates)
        if account_active is not None:
            changes["account_active"] = account_active
        if pension_liquidated_on is not None:
            changes["pension_liquidated_on"] = pension_liquidated_on
        statement = pg_insert(elus).values(elu_id=elu_id, **changes)
        statement = statement.on_conflict_do_update(
            index_elements=[elus.c.elu_id], set_={name: statement.excluded[name] for name in changes}
        )
        await self.session.execute(statement)

    async def upsert_organisme(self, siret: str, name: str) -> None:
        statement = pg_insert(organismes).values(siret=siret, name=name)
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=[organismes.c.siret], set_={"name": name})
        )

    async def upsert_offer(
        self, offer: OfferSnapshot, published_at: datetime, offered: Sequence[SessionSnapshot]
    ) -> None:
        """The catalogue's latest snapshot replaces the offer; sessions keep the seats this service counts."""
        values = {
            "siret": offer.siret,
            "kind": offer.kind.value,
            "title": offer.title,
            "theme_code": offer.theme_code,
            "hours": offer.hours,
            "price_cents": offer.price_cents,
            "department": offer.department,
            "published": True,
            "published_at": published_at,
        }
        statement = pg_insert(offers).values(offer_id=offer.offer_id, **values)
        await self.session.execute(
            statement.on_conflict_do_update(index_elements=[offers.c.offer_id], set_=values)
        )
        for session in offered:
            session_values = {
                "offer_id": offer.offer_id,
                "start_date": session.start,
                "end_date": session.end,
                "capacity": session.capacity,
            }
            insert = pg_insert(sessions).values(session_id=session.session_id, **session_values)
            await self.session.execute(
                insert.on_conflict_do_update(index_elements=[sessions.c.session_id], set_=session_values)
            )

    async def withdraw_offer(self, offer_id: UUID) -> None:
        await self.session.execute(
            update(offers).where(offers.c.offer_id == offer_id).values(published=False)
        )

    async def cancel_session(self, session_id: UUID) -> None:
        await self.session.execute(
            update(sessions).where(sessions.c.session_id == session_id).values(cancelled=True)
        )


def _control_values(control: Control) -> dict[str, Any]:
    return {
        "control_id": control.control_id,
        "dossier_id": control.dossier_id,
        "kind": control.kind.value,
        "reason": control.reason,
        "status": control.status.value,
        "opened_by": control.opened_by,
        "opened_at": control.opened_at,
        "decided_by": control.decided_by,
        "decided_at": control.decided_at,
        "decision_reason": control.decision_reason,
    }


def _control_of(row: Any) -> Control:
    return Control(
        control_id=row.control_id,
        dossier_id=row.dossier_id,
        kind=ControlKind(row.kind),
        reason=row.reason,
        status=ControlStatus(row.status),
        opened_by=row.opened_by,
        opened_at=row.opened_at,
        decided_by=row.decided_by,
        decided_at=row.decided_at,
        decision_reason=row.decision_reason,
    )
