"""Training organisations and their agréments (R-OF-1): agents register and decide; the history stays."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated

from dife_contracts.enums import AgrementStatus, Role
from dife_contracts.events import OrganismeAgrementChanged, OrganismeRegistered
from dife_contracts.values import Nda, PostalCode
from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, field_validator, model_validator
from servicekit.api import SessionDep
from servicekit.auth import Principal, require_roles
from servicekit.errors import Conflict, NotFound, problem_responses
from servicekit.idempotency import idempotent
from servicekit.pagination import Page, PageParams

from catalogue.adapters import repository
from catalogue.api.common import domain_refusals, emit
from catalogue.api.offers import stop_selling_uncovered_sessions
from catalogue.domain.organismes import Agrement, agrement_dates_problem, is_accredited, normalise_siret
from catalogue.domain.quality import Quality

router = APIRouter(prefix="/v1/organismes", tags=["organismes"])

AgentOnly = Annotated[Principal, Depends(require_roles(Role.AGENT))]


class Address(BaseModel):
    street: str | None = Field(default=None, max_length=300)
    postal_code: PostalCode | None = None
    city: str | None = Field(default=None, max_length=120)


class OrganismeIn(BaseModel):
    siret: str = Field(description="14 digits, checked with its Luhn key", examples=["73282932000074"])
    name: str = Field(min_length=1, max_length=300)
    nda: Nda = Field(description="Numéro de déclaration d'activité (11 digits)")
    address: Address | None = None

    @field_validator("siret")
    @classmethod
    def _valid_siret(cls, value: str) -> str:
        siret = normalise_siret(value)
        if siret is None:
            raise ValueError("not a valid SIRET (14 digits with a valid Luhn key)")
        return siret


class AgrementIn(BaseModel):
    reference: str = Field(min_length=1, max_length=100, examples=["AGR-CNFEL-2026-0042"])
    decision_date: date
    valid_from: date
    valid_until: date

    @model_validator(mode="after")
    def _dates_in_order(self) -> AgrementIn:
        problem = agrement_dates_problem(self.decision_date, self.valid_from, self.valid_until)
        if problem is not None:
            raise ValueError(problem)
        return self


class WithdrawalIn(BaseModel):
    date: date
    reason: str = Field(min_length=1, max_length=1000)


class AgrementOut(BaseModel):
    id: uuid.UUID
    reference: str
    decision_date: date
    valid_from: date
    valid_until: date
    withdrawn_on: date | None
    withdrawal_reason: str | None

    @classmethod
    def of(cls, agrement: Agrement) -> AgrementOut:
        return cls(
            id=agrement.id,
            reference=agrement.reference,
            decision_date=agrement.decision_date,
            valid_from=agrement.valid_from,
            valid_until=agrement.valid_until,
            withdrawn_on=agrement.withdrawn_on,
            withdrawal_reason=agrement.withdrawal_reason,
        )


class QualityOut(BaseModel):
    rating_count: int
    rating_average: Decimal | None

    @classmethod
    def of(cls, quality: Quality) -> QualityOut:
        return cls(rating_count=quality.count, rating_average=quality.average)


class OrganismeOut(BaseModel):
    siret: str
    name: str
    nda: str
    address: Address
    accredited_today: bool = Field(description="An agrément is valid today (R-OF-1)")
    agrements: list[AgrementOut] = Field(description="Every agrément ever granted, withdrawals included")
    quality: QualityOut


async def _organisme_out(session: SessionDep, siret: str) -> OrganismeOut:
    row = await repository.get_organisme(session, siret)
    if row is None:
        raise NotFound(f"no organisme with SIRET {siret}")
    agrements = await repository.agrements_of(session, siret)
    return OrganismeOut(
        siret=row.siret,
        name=row.name,
        nda=row.nda,
        address=Address(street=row.street, postal_code=row.postal_code, city=row.city),
        accredited_today=is_accredited(agrements, date.today()),
        agrements=[AgrementOut.of(a) for a in agrements],
        quality=QualityOut.of(Quality(row.rating_count, row.rating_sum)),
    )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganismeOut,
    responses=problem_responses(401, 403, 409, 422),
    summary="Register a training organisation (agents)",
)
async def register_organisme(
    body: OrganismeIn, request: Request, session: SessionDep, principal: AgentOnly
) -> JSONResponse:
    async def compute() -> tuple[int, OrganismeOut]:
        address = body.address or Address()
        values = {"siret": body.siret, "name": body.name, "nda": body.nda, **address.model_dump()}
        if not await repository.insert_organisme(session, values):
            raise Conflict(f"an organisme with SIRET {body.siret} is already registered")
        await emit(session, OrganismeRegistered(siret=body.siret, name=body.name, nda=body.nda))
        return status.HTTP_201_CREATED, await _organisme_out(session, body.siret)

    return await idempotent(session, request, principal, compute)


@router.get("/{siret}", response_model=OrganismeOut, responses=problem_responses(404))
async def get_organisme(siret: str, session: SessionDep) -> OrganismeOut:
    """Public: who the organisation is, its agréments and its quality score."""
    return await _organisme_out(session, siret)


@router.post(
    "/{siret}/agrements",
    status_code=status.HTTP_201_CREATED,
    response_model=AgrementOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Record an agrément granted or renewed by the ministry (agents)",
)
async def grant_agrement(
    siret: str, body: AgrementIn, request: Request, session: SessionDep, principal: AgentOnly
) -> JSONResponse:
    async def compute() -> tuple[int, AgrementOut]:
        if await repository.get_organisme(session, siret, lock=True) is None:
            raise NotFound(f"no organisme with SIRET {siret}")
        previous = await repository.agrements_of(session, siret)
        agrement = Agrement(
            uuid.uuid4(), body.reference, body.decision_date, body.valid_from, body.valid_until
        )
        if not await repository.insert_agrement(session, siret, agrement):
            raise Conflict(f"agrément {body.reference} is already recorded for {siret}")
        await emit(session, _agrement_changed(siret, agrement, renewed=bool(previous)))
        return status.HTTP_201_CREATED, AgrementOut.of(agrement)

    return await idempotent(session, request, principal, compute)


@router.post(
    "/{siret}/agrements/{agrement_id}/withdrawal",
    response_model=AgrementOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Record the withdrawal of an agrément (agents): it ends validity from its date (R-OF-1)",
)
async def withdraw_agrement(
    siret: str, agrement_id: uuid.UUID, body: WithdrawalIn, session: SessionDep, principal: AgentOnly
) -> AgrementOut:
    agrement = await repository.get_agrement(session, siret, agrement_id)
    if agrement is None:
        raise NotFound(f"no agrément {agrement_id} for {siret}")
    with domain_refusals():
        withdrawn = agrement.withdraw(body.date, body.reason)
    await repository.record_withdrawal(session, withdrawn)
    await emit(session, _agrement_changed(siret, withdrawn, renewed=False))
    await stop_selling_uncovered_sessions(session, siret, withdrawn)
    return AgrementOut.of(withdrawn)


class OwnOffer(BaseModel):
    id: uuid.UUID
    status: str
    kind: str
    title: str
    next_start_date: date | None
    created_at: datetime


@router.get("/{siret}/offers", response_model=Page[OwnOffer], responses=problem_responses(401, 403))
async def list_own_offers(
    siret: str,
    session: SessionDep,
    principal: Annotated[Principal, Depends(require_roles(Role.ORGANISME, Role.AGENT))],
    page: Annotated[PageParams, Depends()],
) -> Page[OwnOffer]:
    """An organisme's own offers, drafts and withdrawn ones included (the organisme itself, agents)."""
    principal.ensure_siret(siret)
    rows = await repository.offers_of(session, siret, page.after(types=(datetime, uuid.UUID)), page.limit)
    return Page[OwnOffer].from_overfetch(
        [OwnOffer.model_validate(row, from_attributes=True) for row in rows],
        limit=page.limit,
        cursor_values=lambda offer: (offer.created_at, offer.id),
    )


def _agrement_changed(siret: str, agrement: Agrement, *, renewed: bool) -> OrganismeAgrementChanged:
    if agrement.withdrawn_on is not None:
        decision = AgrementStatus.WITHDRAWN
    else:
        decision = AgrementStatus.RENEWED if renewed else AgrementStatus.GRANTED
    return OrganismeAgrementChanged(
        siret=siret,
        agrement_id=agrement.id,
        reference=agrement.reference,
        decision_date=agrement.decision_date,
        valid_from=agrement.valid_from,
        valid_until=agrement.valid_until,
        withdrawn_on=agrement.withdrawn_on,
        status=decision,
    )
