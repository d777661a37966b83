"""The fund's bank statements (camt.053) and the credits agents assign by hand (R-CON-4)."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated, Any

from dife_contracts.enums import Role
from fastapi import APIRouter, Depends, Request, status
from fastapi.responses import JSONResponse
from servicekit.api import SessionDep
from servicekit.auth import Principal, require_roles
from servicekit.errors import problem_responses
from servicekit.idempotency import idempotent
from servicekit.pagination import Page, PageDep

from contributions.adapters.camt053 import parse_camt053
from contributions.api.common import (
    OutboxDep,
    RepositoryDep,
    StateDep,
    UnsupportedMediaType,
    bounded_body,
    media_type,
)
from contributions.api.schemas import AssignmentIn, CreditOut, PeriodOut, StatementOut
from contributions.use_cases.payments import assign_credit, import_bank_statement

router = APIRouter(tags=["bank statements"])

Importer = Annotated[Principal, Depends(require_roles(Role.AGENT, Role.OPS))]
AgentOnly = Annotated[Principal, Depends(require_roles(Role.AGENT))]
XML_TYPES = ("application/xml", "text/xml")


@router.post(
    "/v1/bank-statements",
    status_code=status.HTTP_201_CREATED,
    response_model=StatementOut,
    responses=problem_responses(413, 415, 422),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {t: {"schema": {"type": "string", "format": "binary"}} for t in XML_TYPES},
        }
    },
    summary="Import the fund's camt.053 statement (agent, ops): credits matched by RF reference, else SIREN "
    "and amount; the rest listed for agents. The same statement again changes nothing (200, replayed).",
)
async def import_statement(
    request: Request,
    session: SessionDep,
    principal: Importer,
    repository: RepositoryDep,
    outbox: OutboxDep,
    state: StateDep,
) -> JSONResponse:
    if media_type(request) not in XML_TYPES:
        raise UnsupportedMediaType("send the camt.053 statement as application/xml")
    statement = parse_camt053(await bounded_body(request, state.max_upload_bytes))

    async def compute() -> tuple[int, Any]:
        result = await import_bank_statement(
            repository,
            outbox,
            statement,
            imported_by=principal.sub,
            now=state.clock.now(),
            policy=state.policy,
        )
        body = StatementOut(
            id=result.report.id,
            key=result.report.key,
            imported_at=result.report.imported_at,
            replayed=result.replayed,
            credit_count=result.report.credit_count,
            matched_count=result.report.matched_count,
            already_recorded=result.already_recorded,
            credits=[CreditOut.of_match(m) for m in result.credits],
        )
        return (200 if result.replayed else 201), body

    return await idempotent(session, request, principal, compute)


@router.get(
    "/v1/bank-credits/unmatched",
    response_model=Page[CreditOut],
    summary="Credits no period could be found for, oldest first (agent, ops)",
)
async def unmatched(principal: Importer, repository: RepositoryDep, page: PageDep) -> Page[CreditOut]:
    after = page.after(types=(date, uuid.UUID))
    rows = await repository.unmatched_credits(None if after is None else (after[0], after[1]), page.limit + 1)
    return Page.from_overfetch(
        [CreditOut.of_stored(c) for c in rows], limit=page.limit, cursor_values=lambda c: (c.booked_on, c.id)
    )


@router.post(
    "/v1/bank-credits/{credit_id}/assignment",
    response_model=PeriodOut,
    responses=problem_responses(404, 409, 422),
    summary="Give an unmatched credit its collectivité and period (agent): it becomes a payment",
)
async def assign(
    credit_id: uuid.UUID,
    body: AssignmentIn,
    principal: AgentOnly,
    repository: RepositoryDep,
    outbox: OutboxDep,
    state: StateDep,
) -> PeriodOut:
    account = await assign_credit(
        repository,
        outbox,
        credit_id=credit_id,
        siren=body.siren,
        period_text=body.period,
        assigned_by=principal.sub,
        today=state.clock.today(),
        policy=state.policy,
    )
    return PeriodOut.of_account(account)
