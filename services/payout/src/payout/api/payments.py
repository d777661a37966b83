"""Payments to organismes (R-PAY-1, R-PAY-3): an organisme sees its own, an agent all."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from servicekit.api import SessionDep
from servicekit.errors import problem_responses
from servicekit.pagination import Page, PageDep
from servicekit.rules import NotFound

from payout.adapters.repository import PaymentRepository
from payout.api.common import OrganismeOrAgent, StateDep, ensure_own_siret, sees_every_organisme
from payout.domain.payments import Payment, PaymentStatus

router = APIRouter(prefix="/v1/payments", tags=["payments"])


class PaymentOut(BaseModel):
    id: UUID
    dossier_id: UUID
    siret: str
    amount_cents: int
    realisation_percent: int
    validated_on: date
    deadline: date = Field(description="30 calendar days after service done was validated (R-PAY-3)")
    overdue: bool
    status: PaymentStatus
    attempts: int
    batch_id: UUID | None
    end_to_end_id: str | None
    settled_cents: int
    settled_on: date | None
    rejection_reason: str | None
    rejected_on: date | None

    @classmethod
    def of(cls, payment: Payment, today: date) -> PaymentOut:
        return cls(
            id=payment.payment_id,
            dossier_id=payment.dossier_id,
            siret=payment.siret,
            amount_cents=payment.amount_cents,
            realisation_percent=payment.realisation_percent,
            validated_on=payment.validated_on,
            deadline=payment.deadline,
            overdue=payment.is_overdue(today),
            status=payment.status,
            attempts=payment.attempts,
            batch_id=payment.batch_id,
            end_to_end_id=payment.end_to_end_id,
            settled_cents=payment.settled_cents,
            settled_on=payment.settled_on,
            rejection_reason=payment.rejection_reason,
            rejected_on=payment.rejected_on,
        )


@router.get(
    "",
    response_model=Page[PaymentOut],
    responses=problem_responses(401, 403, 422),
    summary="Payments, newest first: an organisme's own, or all for agents (R-PAY-3: `overdue=true`)",
)
async def list_payments(
    session: SessionDep,
    state: StateDep,
    principal: OrganismeOrAgent,
    page: PageDep,
    status: PaymentStatus | None = None,
    overdue: Annotated[bool, Query(description="Only unsettled payments past their deadline")] = False,
    siret: Annotated[str | None, Query(pattern=r"^\d{14}$")] = None,
) -> Page[PaymentOut]:
    if not sees_every_organisme(principal):
        siret = siret or principal.siret or ""
        ensure_own_siret(principal, siret)
    today = state.clock.today()
    rows = await PaymentRepository(session).page(
        siret=siret,
        status=status,
        overdue_on=today if overdue else None,
        after=page.after(types=(datetime, UUID)),
        limit=page.limit,
    )
    created = {payment.payment_id: created_at for payment, created_at in rows}
    return Page[PaymentOut].from_overfetch(
        [PaymentOut.of(payment, today) for payment, _ in rows],
        limit=page.limit,
        cursor_values=lambda out: (created[out.id], out.id),
    )


@router.get(
    "/{payment_id}",
    response_model=PaymentOut,
    responses=problem_responses(401, 403, 404),
    summary="One payment (its organisme or an agent)",
)
async def get_payment(
    payment_id: UUID, session: SessionDep, state: StateDep, principal: OrganismeOrAgent
) -> PaymentOut:
    payment = await PaymentRepository(session).get(payment_id)
    if payment is None:
        raise NotFound(f"no payment {payment_id}")
    ensure_own_siret(principal, payment.siret)
    return PaymentOut.of(payment, state.clock.today())
