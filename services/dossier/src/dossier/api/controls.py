"""Controls of a declared service done by CDC agents (R-DOS-4)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated
from uuid import UUID

from dife_contracts.enums import Role
from fastapi import APIRouter, Depends, Query, status
from servicekit.auth import Principal, require_roles
from servicekit.errors import problem_responses
from servicekit.pagination import Page, PageDep

from dossier.api.deps import ContextDep, as_agent
from dossier.api.schemas import ControlIn, ControlOut, DecisionIn
from dossier.domain.controls import ControlStatus
from dossier.use_cases import dossiers as uc
from dossier.use_cases import queries

router = APIRouter(prefix="/v1", tags=["controls"])

Agent = Annotated[Principal, Depends(require_roles(Role.AGENT))]


@router.post(
    "/dossiers/{dossier_id}/controls",
    status_code=status.HTTP_201_CREATED,
    response_model=ControlOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Open a quality or fraud control while service done awaits validation (suspends R-DOS-4)",
)
async def open_control(dossier_id: UUID, body: ControlIn, principal: Agent, ctx: ContextDep) -> ControlOut:
    return ControlOut.of(await uc.open_control(ctx, as_agent(principal), dossier_id, body.kind, body.reason))


@router.post(
    "/controls/{control_id}/decision",
    response_model=ControlOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Decide a control: validate the service done, or reject it (cancelled by the financer)",
)
async def decide(control_id: UUID, body: DecisionIn, principal: Agent, ctx: ContextDep) -> ControlOut:
    control = await uc.decide_control(ctx, as_agent(principal), control_id, body.outcome, body.reason)
    return ControlOut.of(control)


@router.get(
    "/controls",
    response_model=Page[ControlOut],
    responses=problem_responses(401, 403, 422),
    summary="Controls, oldest first (`?status=open` for the work queue)",
)
async def list_controls(
    principal: Agent,
    ctx: ContextDep,
    page: PageDep,
    status_: Annotated[ControlStatus | None, Query(alias="status")] = None,
) -> Page[ControlOut]:
    found = await queries.list_controls(
        ctx, status_, after=page.after(types=[datetime, UUID]), limit=page.limit
    )
    items = [ControlOut.of(c) for c in found]
    return Page[ControlOut].from_overfetch(
        items, limit=page.limit, cursor_values=lambda c: (c.opened_at, c.id)
    )
