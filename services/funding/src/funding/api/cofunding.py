"""Co-funding envelopes and top-up requests: a collectivité acts only for its own SIREN (`siren` claim)."""

from __future__ import annotations

import dataclasses
from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import JSONResponse
from servicekit.api import SessionDep
from servicekit.auth import Principal, require_roles
from servicekit.errors import Forbidden, problem_responses
from servicekit.idempotency import idempotent
from servicekit.pagination import Page, PageDep

from funding.api.deps import FundingDep
from funding.api.schemas import (
    COLLECTIVITE_CODE_PATTERN,
    CodeOwnerIn,
    CodeOwnerOut,
    DecisionIn,
    EnvelopeIn,
    EnvelopeOut,
    RequestOut,
)
from funding.use_cases import cofunding as cases

envelopes_router = APIRouter(prefix="/v1/cofunding-envelopes", tags=["co-funding"])
requests_router = APIRouter(prefix="/v1/cofunding-requests", tags=["co-funding"])
codes_router = APIRouter(prefix="/v1/collectivite-codes", tags=["co-funding"])

Collectivite = Annotated[Principal, Depends(require_roles("collectivite"))]
CollectiviteOrStaff = Annotated[Principal, Depends(require_roles("collectivite", "agent", "ops"))]
Agent = Annotated[Principal, Depends(require_roles("agent"))]
CodePath = Annotated[str, Path(pattern=COLLECTIVITE_CODE_PATTERN)]


def _own_siren(principal: Principal) -> str:
    if not principal.siren:
        raise Forbidden("a collectivité token carries its SIREN in the `siren` claim")
    return principal.siren


def _siren_filter(principal: Principal, asked: str | None) -> str | None:
    """Staff may list any collectivité's items (or all); a collectivité only its own."""
    if principal.is_staff:
        return asked
    own = _own_siren(principal)
    if asked is not None and asked != own:
        raise Forbidden("a collectivité may only list its own items (SIREN mismatch)")
    return own


@envelopes_router.post(
    "",
    status_code=201,
    response_model=EnvelopeOut,
    summary="Publish a co-funding envelope voted by the collectivité's council (R-FUN-2)",
    responses=problem_responses(401, 403, 409, 422),
)
async def post_envelope(
    body: EnvelopeIn, request: Request, session: SessionDep, funding: FundingDep, principal: Collectivite
) -> JSONResponse:
    siren = _own_siren(principal)
    new = cases.NewEnvelope(**body.model_dump())

    async def compute() -> tuple[int, EnvelopeOut]:
        return 201, EnvelopeOut.of(await cases.create_envelope(funding, siren, new))

    return await idempotent(session, request, principal, compute)


@envelopes_router.get(
    "",
    response_model=Page[EnvelopeOut],
    summary="Envelopes of a collectivité",
    responses=problem_responses(401, 403, 422),
)
async def list_envelopes(
    funding: FundingDep,
    principal: CollectiviteOrStaff,
    page: PageDep,
    siren: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
) -> Page[EnvelopeOut]:
    after = page.after(types=[datetime, UUID])
    rows = await cases.list_envelopes(
        funding,
        _siren_filter(principal, siren),
        after,
        page.limit + 1,
    )
    created = {row.envelope.envelope_id: row.created_at for row in rows}
    items = [EnvelopeOut.of(row.envelope) for row in rows]
    return Page.from_overfetch(
        items, limit=page.limit, cursor_values=lambda e: (created[e.envelope_id], e.envelope_id)
    )


@envelopes_router.get(
    "/{envelope_id}",
    response_model=EnvelopeOut,
    summary="One envelope",
    responses=problem_responses(401, 403, 404),
)
async def get_envelope(envelope_id: UUID, funding: FundingDep, principal: CollectiviteOrStaff) -> EnvelopeOut:
    return EnvelopeOut.of(await cases.get_envelope(funding, envelope_id, principal.ensure_siren))


@envelopes_router.post(
    "/{envelope_id}/close",
    response_model=EnvelopeOut,
    summary="Close an envelope: no new top-up; requests already made keep their reservation",
    responses=problem_responses(401, 403, 404, 409),
)
async def close_envelope(envelope_id: UUID, funding: FundingDep, principal: Collectivite) -> EnvelopeOut:
    return EnvelopeOut.of(await cases.close_envelope(funding, envelope_id, principal.ensure_siren))


def _request_out(request: cases.CofundingRequest) -> RequestOut:
    return RequestOut(**dataclasses.asdict(request))


@requests_router.get(
    "",
    response_model=Page[RequestOut],
    summary="Top-up requests of a collectivité (pending by default)",
    responses=problem_responses(401, 403, 422),
)
async def list_requests(
    funding: FundingDep,
    principal: CollectiviteOrStaff,
    page: PageDep,
    status: Literal["pending", "approved", "refused", "released", "consumed"] = "pending",
    siren: Annotated[str | None, Query(pattern=r"^\d{9}$")] = None,
) -> Page[RequestOut]:
    after = page.after(types=[datetime, UUID])
    rows = await cases.list_requests(
        funding,
        _siren_filter(principal, siren),
        status,
        after,
        page.limit + 1,
    )
    items = [_request_out(row) for row in rows]
    return Page.from_overfetch(items, limit=page.limit, cursor_values=lambda r: (r.created_at, r.request_id))


@requests_router.post(
    "/{request_id}/decision",
    response_model=RequestOut,
    summary="The collectivité's decision on a top-up request (R-FUN-2)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def decide(
    request_id: UUID, body: DecisionIn, funding: FundingDep, principal: Collectivite
) -> RequestOut:
    decided = await cases.decide_request(
        funding,
        request_id,
        approved=body.approved,
        amount_cents=body.amount_cents,
        ensure_siren=principal.ensure_siren,
    )
    return _request_out(decided)


@codes_router.put(
    "/{collectivite_code}",
    response_model=CodeOwnerOut,
    summary="Record which SIREN owns a collectivité code (agent; R-FUN-2)",
    responses=problem_responses(401, 403, 409, 422),
)
async def put_code_owner(
    collectivite_code: CodePath, body: CodeOwnerIn, funding: FundingDep, principal: Agent
) -> CodeOwnerOut:
    owner = await cases.register_code(funding, collectivite_code, body.siren, principal.sub)
    return CodeOwnerOut(collectivite_code=owner.collectivite_code, siren=owner.siren)


@codes_router.get(
    "/{collectivite_code}",
    response_model=CodeOwnerOut,
    summary="The SIREN that owns a collectivité code",
    responses=problem_responses(401, 403, 404, 422),
)
async def get_code_owner(
    collectivite_code: CodePath, funding: FundingDep, principal: CollectiviteOrStaff
) -> CodeOwnerOut:
    owner = await cases.code_owner(funding, collectivite_code, principal.ensure_siren)
    return CodeOwnerOut(collectivite_code=owner.collectivite_code, siren=owner.siren)
