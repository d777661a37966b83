"""``/v1/organismes``: training organisations and their agréments (R-OF-1): agents register and decide;
the history stays. An organisme lists its own offers."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from dife_contracts.enums import Role
from fastapi import APIRouter, Depends, Path, Request, status
from fastapi.responses import JSONResponse
from servicekit.api import SessionDep
from servicekit.auth import Principal, require_roles
from servicekit.errors import problem_responses
from servicekit.idempotency import idempotent
from servicekit.pagination import Page, PageDep

from catalogue.api.common import ClockDep, IdempotencyKey, OutboxDep, Repository, acting_for_organisme
from catalogue.api.schemas import AgrementIn, AgrementOut, OrganismeIn, OrganismeOut, OwnOffer, WithdrawalIn
from catalogue.use_cases import offers, organismes

router = APIRouter(prefix="/v1/organismes", tags=["organismes"])

AgentOnly = Annotated[Principal, Depends(require_roles(Role.AGENT))]
Seller = Annotated[Principal, Depends(require_roles(Role.ORGANISME, Role.AGENT))]
Siret = Annotated[str, Path(pattern=r"^\d{14}$", description="14 digits", examples=["73282932000074"])]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=OrganismeOut,
    responses=problem_responses(400, 401, 403, 409, 422),
    summary="Register a training organisation (agents)",
)
async def register_organisme(
    body: OrganismeIn,
    request: Request,
    session: SessionDep,
    idempotency_key: IdempotencyKey,
    repo: Repository,
    outbox: OutboxDep,
    clock: ClockDep,
    principal: AgentOnly,
) -> JSONResponse:
    async def compute() -> tuple[int, OrganismeOut]:
        record = await organismes.register_organisme(repo, outbox, body.to_domain(), today=clock.today())
        return status.HTTP_201_CREATED, OrganismeOut.of(record)

    return await idempotent(session, request, principal, compute)


@router.get("/{siret}", response_model=OrganismeOut, responses=problem_responses(404, 422))
async def get_organisme(siret: Siret, repo: Repository, clock: ClockDep) -> OrganismeOut:
    """Public: who the organisation is, its agréments and its quality score."""
    return OrganismeOut.of(await organismes.organisme_record(repo, siret, today=clock.today()))


@router.post(
    "/{siret}/agrements",
    status_code=status.HTTP_201_CREATED,
    response_model=AgrementOut,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
    summary="Record an agrément granted or renewed by the ministry (agents)",
)
async def grant_agrement(
    siret: Siret,
    body: AgrementIn,
    request: Request,
    session: SessionDep,
    idempotency_key: IdempotencyKey,
    repo: Repository,
    outbox: OutboxDep,
    principal: AgentOnly,
) -> JSONResponse:
    async def compute() -> tuple[int, AgrementOut]:
        agrement = await organismes.grant_agrement(
            repo,
            outbox,
            siret,
            reference=body.reference,
            decision_date=body.decision_date,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
        )
        return status.HTTP_201_CREATED, AgrementOut.of(agrement)

    return await idempotent(session, request, principal, compute)


@router.post(
    "/{siret}/agrements/{agrement_id}/withdrawal",
    response_model=AgrementOut,
    responses=problem_responses(400, 401, 403, 404, 409, 422),
    summary="Record the withdrawal of an agrément (agents): it ends validity from its date (R-OF-1)",
)
async def withdraw_agrement(
    siret: Siret,
    agrement_id: uuid.UUID,
    body: WithdrawalIn,
    repo: Repository,
    outbox: OutboxDep,
    clock: ClockDep,
    principal: AgentOnly,
) -> AgrementOut:
    withdrawn = await organismes.withdraw_agrement(
        repo, outbox, siret, agrement_id, on=body.date, reason=body.reason, now=clock.now()
    )
    return AgrementOut.of(withdrawn)


@router.get("/{siret}/offers", response_model=Page[OwnOffer], responses=problem_responses(401, 403, 422))
async def list_own_offers(
    siret: Siret,
    repo: Repository,
    principal: Seller,
    page: PageDep,
) -> Page[OwnOffer]:
    """An organisme's own offers, drafts and withdrawn ones included (the organisme itself, agents)."""
    after = page.after(types=(datetime, uuid.UUID))
    listings = await offers.offers_of(
        repo,
        siret,
        after=(after[0], after[1]) if after is not None else None,
        limit=page.limit,
        guard=acting_for_organisme(principal),
    )
    return Page[OwnOffer].from_overfetch(
        [OwnOffer.of(listing) for listing in listings],
        limit=page.limit,
        cursor_values=lambda offer: (offer.created_at, offer.id),
    )
