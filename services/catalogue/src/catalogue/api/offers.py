"""``/v1/offers``: offers and sessions, managed by their organisme (or an agent); terms R-OFR-1…5, R-OF-1.

Each route parses, authorizes (``acting_for_organisme``: the role that grants access decides), calls one use
case and returns a schema; the request owns the transaction.
"""

from __future__ import annotations

import uuid
from typing import Annotated

from dife_contracts.enums import Role
from fastapi import APIRouter, Depends, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from servicekit.api import SessionDep
from servicekit.auth import OptionalPrincipal, Principal, require_roles
from servicekit.errors import problem_responses
from servicekit.idempotency import idempotent

from catalogue.api.common import (
    ClockDep,
    IdempotencyKey,
    OutboxDep,
    Repository,
    acting_for_organisme,
)
from catalogue.api.schemas import OfferFields, OfferIn, OfferOut, ReasonIn, SessionIn, SessionOut
from catalogue.use_cases import offers

router = APIRouter(prefix="/v1/offers", tags=["offers"])

Seller = Annotated[Principal, Depends(require_roles(Role.ORGANISME, Role.AGENT))]
PROBLEMS = problem_responses(401, 403, 404, 409, 422)
WITH_BODY_PROBLEMS = problem_responses(400, 401, 403, 404, 409, 422)
"""A route with a body also answers 400 to one that is not even text (bytes that are not UTF-8), and a
creating POST to a malformed ``Idempotency-Key``."""


def _selling_siret(body: OfferIn, principal: Principal) -> str:
    """The organisme that sells: an agent names it; an organisme sells for itself."""
    if principal.has_role(Role.AGENT):
        if body.siret is None:
            message = "an agent names the organisme that sells the offer"
            raise RequestValidationError([{"loc": ("body", "siret"), "msg": message, "type": "value_error"}])
        return body.siret
    return body.siret or principal.siret or ""


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OfferOut, responses=WITH_BODY_PROBLEMS)
async def create_offer(
    body: OfferIn,
    request: Request,
    session: SessionDep,
    idempotency_key: IdempotencyKey,
    repo: Repository,
    clock: ClockDep,
    principal: Seller,
) -> JSONResponse:
    """A draft offer of the caller's organisme; every rule its terms break is listed in one 422."""
    siret = _selling_siret(body, principal)
    acting_for_organisme(principal)(siret)

    async def compute() -> tuple[int, OfferOut]:
        offer = await offers.create_offer(
            repo, siret=siret, content=body.content(), today=clock.today(), now=clock.now()
        )
        return status.HTTP_201_CREATED, OfferOut.of(offer)

    return await idempotent(session, request, principal, compute)


@router.get("/{offer_id}", response_model=OfferOut, responses=problem_responses(401, 403, 404, 422))
async def get_offer(offer_id: uuid.UUID, repo: Repository, principal: OptionalPrincipal) -> OfferOut:
    """Public for a published or withdrawn offer; a draft only to its organisme and agents."""
    reader = acting_for_organisme(principal) if principal is not None else None
    return OfferOut.of(await offers.read_offer(repo, offer_id, draft_reader=reader))


@router.patch("/{offer_id}", response_model=OfferOut, responses=WITH_BODY_PROBLEMS)
async def update_offer(
    offer_id: uuid.UUID,
    body: OfferFields,
    repo: Repository,
    outbox: OutboxDep,
    clock: ClockDep,
    principal: Seller,
) -> OfferOut:
    """Change some terms; the whole offer is checked again, and a published offer is published again."""
    offer = await offers.revise_offer(
        repo, outbox, offer_id, body.changes(), guard=acting_for_organisme(principal), today=clock.today()
    )
    return OfferOut.of(offer)


@router.post(
    "/{offer_id}/sessions",
    status_code=status.HTTP_201_CREATED,
    response_model=SessionOut,
    responses=WITH_BODY_PROBLEMS,
)
async def add_session(
    offer_id: uuid.UUID,
    body: SessionIn,
    request: Request,
    session: SessionDep,
    idempotency_key: IdempotencyKey,
    repo: Repository,
    outbox: OutboxDep,
    principal: Seller,
) -> JSONResponse:
    """A dated session: at most 15 seats on a mandate training (R-OFR-4), inside an agrément (R-OF-1)."""

    async def compute() -> tuple[int, SessionOut]:
        added = await offers.add_session(
            repo,
            outbox,
            offer_id,
            start_date=body.start_date,
            end_date=body.end_date,
            capacity=body.capacity,
            guard=acting_for_organisme(principal),
        )
        return status.HTTP_201_CREATED, SessionOut.of(added)

    return await idempotent(session, request, principal, compute)


@router.post("/{offer_id}/publish", response_model=OfferOut, responses=PROBLEMS)
async def publish_offer(
    offer_id: uuid.UUID, repo: Repository, outbox: OutboxDep, clock: ClockDep, principal: Seller
) -> OfferOut:
    """A draft with at least one open session goes public; the agrément must cover every session (R-OF-1)."""
    offer = await offers.publish_offer(
        repo, outbox, offer_id, guard=acting_for_organisme(principal), now=clock.now()
    )
    return OfferOut.of(offer)


@router.post("/{offer_id}/withdraw", response_model=OfferOut, responses=WITH_BODY_PROBLEMS)
async def withdraw_offer(
    offer_id: uuid.UUID,
    repo: Repository,
    outbox: OutboxDep,
    clock: ClockDep,
    principal: Seller,
    body: ReasonIn | None = None,
) -> OfferOut:
    """Off the catalogue for good; no new dossier may be opened on it."""
    offer = await offers.withdraw_offer(
        repo,
        outbox,
        offer_id,
        reason=body.reason if body else "",
        guard=acting_for_organisme(principal),
        now=clock.now(),
    )
    return OfferOut.of(offer)


@router.post(
    "/{offer_id}/sessions/{session_id}/cancel", response_model=SessionOut, responses=WITH_BODY_PROBLEMS
)
async def cancel_session(
    offer_id: uuid.UUID,
    session_id: uuid.UUID,
    repo: Repository,
    outbox: OutboxDep,
    principal: Seller,
    body: ReasonIn | None = None,
) -> SessionOut:
    """The session will not take place; the dossier service cancels its dossiers on ``session_cancelled``."""
    cancelled = await offers.cancel_session(
        repo,
        outbox,
        offer_id,
        session_id,
        reason=body.reason if body else "",
        guard=acting_for_organisme(principal),
    )
    return SessionOut.of(cancelled)
