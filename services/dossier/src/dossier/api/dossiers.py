"""Dossier routes: the élu's request and answers, the organisme's declarations, reads and lists."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any
from uuid import UUID

from dife_contracts.enums import DossierStatus, Role
from dife_contracts.values import Siret
from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import JSONResponse, Response
from servicekit.api import SessionDep
from servicekit.auth import Principal, require_roles
from servicekit.errors import problem_responses
from servicekit.idempotency import idempotent
from servicekit.pagination import Page, encode_cursor

from dossier.adapters.metrics import LATE_DECLARATIONS
from dossier.adapters.repository import DossierFilter
from dossier.api.bodies import dossier_body, dossier_json, json_response
from dossier.api.deps import ContextDep, ListsDep, PageDep, as_elu, as_organisme, readers
from dossier.api.schemas import (
    DossierOut,
    EluCancellationIn,
    EntryIn,
    EvaluationIn,
    ExitIn,
    ReasonIn,
    SubmissionIn,
)
from dossier.domain.dossier import Dossier
from dossier.use_cases import dossiers as uc
from dossier.use_cases import queries

router = APIRouter(prefix="/v1/dossiers", tags=["dossiers"])

Elu = Annotated[Principal, Depends(require_roles(Role.ELU))]
Organisme = Annotated[Principal, Depends(require_roles(Role.ORGANISME))]
Reader = Annotated[Principal, Depends(require_roles(Role.ELU, Role.ORGANISME, Role.AGENT, Role.OPS))]
Party = Annotated[Principal, Depends(require_roles(Role.ELU, Role.ORGANISME))]

ACT = problem_responses(401, 403, 404, 409, 422)


def _dossier_response(dossier: Dossier) -> Response:
    """`DossierOut.of(dossier)`'s JSON (the documented `response_model`), built directly (`api/bodies.py`):
    validating the model, then again as the response, then serialising it was most of a step's own CPU."""
    return json_response(dossier_body(dossier))


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=DossierOut,
    responses=problem_responses(400, 401, 403, 409, 422),
    summary="Ask for a session (élu; Idempotency-Key); 422 lists every R-DOS-2 reason that applies",
)
async def submit(
    body: SubmissionIn, request: Request, principal: Elu, session: SessionDep, ctx: ContextDep
) -> JSONResponse:
    caller = as_elu(principal)

    async def compute() -> tuple[int, dict[str, Any]]:
        dossier = await uc.submit(ctx, caller, offer_id=body.offer_id, session_id=body.session_id)
        return status.HTTP_201_CREATED, dossier_json(dossier)

    return await idempotent(session, request, principal, compute)


@router.get(
    "",
    response_model=Page[DossierOut],
    responses=problem_responses(401, 403, 422),
    summary="Dossiers, newest first: an élu's own, an organisme's own, all for agents",
)
async def list_dossiers(
    principal: Reader,
    lists: ListsDep,
    page: PageDep,
    status_: Annotated[DossierStatus | None, Query(alias="status")] = None,
    siret: Annotated[Siret | None, Query()] = None,
    elu_id: UUID | None = None,
    start_from: Annotated[date | None, Query(alias="from", description="training starts on or after")] = None,
    start_to: Annotated[date | None, Query(alias="to", description="training starts on or before")] = None,
    late: Annotated[bool, Query(description="only entries or exits declared late (R-DOS-3)")] = False,
) -> Response:
    """Keyset pages on (submitted_at, id), without a total; the body is built directly (`api/bodies.py`)."""
    wanted = DossierFilter(
        status=status_, siret=siret, elu_id=elu_id, start_from=start_from, start_to=start_to, late_only=late
    )
    found = await queries.list_dossiers(
        lists, readers(principal), wanted, after=page.after(types=[datetime, UUID]), limit=page.limit
    )
    shown = found[: page.limit]
    more = len(found) > page.limit
    next_cursor = encode_cursor((shown[-1].submitted_at, shown[-1].dossier_id)) if more else None
    return json_response({"items": [dossier_body(d) for d in shown], "next_cursor": next_cursor})


@router.get(
    "/{dossier_id}",
    response_model=DossierOut,
    responses=problem_responses(401, 403, 404),
    summary="A dossier: status, history, snapshot, price, plan, running deadlines, realisation, payment",
)
async def read(dossier_id: UUID, principal: Reader, ctx: ContextDep) -> Response:
    return _dossier_response(await uc.read(ctx, readers(principal), dossier_id))


@router.post(
    "/{dossier_id}/validation", response_model=DossierOut, responses=ACT, summary="OF validates (R-DOS-1)"
)
async def validate(dossier_id: UUID, principal: Organisme, ctx: ContextDep) -> Response:
    return _dossier_response(await uc.validate(ctx, as_organisme(principal), dossier_id))


@router.post(
    "/{dossier_id}/refusal",
    response_model=DossierOut,
    responses=ACT,
    summary="Refusal by the party whose answer is awaited: the OF while submitted, the élu while validated",
)
async def refuse(dossier_id: UUID, body: ReasonIn, principal: Party, ctx: ContextDep) -> Response:
    return _dossier_response(await uc.refuse(ctx, readers(principal), dossier_id, body.reason))


@router.post(
    "/{dossier_id}/cancellation",
    response_model=DossierOut,
    responses=ACT,
    summary="Cancellation by the OF (rights back) or the élu (R-DOS-5: rights_consumed when late)",
)
async def cancel(dossier_id: UUID, body: EluCancellationIn, principal: Party, ctx: ContextDep) -> Response:
    dossier = await uc.cancel(ctx, readers(principal), dossier_id, body.reason, body.force_majeure)
    return _dossier_response(dossier)


@router.post(
    "/{dossier_id}/entry", response_model=DossierOut, responses=ACT, summary="OF declares the entry (R-DOS-3)"
)
async def declare_entry(dossier_id: UUID, body: EntryIn, principal: Organisme, ctx: ContextDep) -> Response:
    dossier = await uc.declare_entry(ctx, as_organisme(principal), dossier_id, body.date)
    if dossier.entry_declared_late:
        LATE_DECLARATIONS.labels("entry").inc()
    return _dossier_response(dossier)


@router.post(
    "/{dossier_id}/exit",
    response_model=DossierOut,
    responses=ACT,
    summary="OF declares exit and hours attended: completed, then service done declared (R-DOS-3)",
)
async def declare_exit(dossier_id: UUID, body: ExitIn, principal: Organisme, ctx: ContextDep) -> Response:
    dossier = await uc.declare_exit(ctx, as_organisme(principal), dossier_id, body.date, body.hours_attended)
    if dossier.exit_declared_late:
        LATE_DECLARATIONS.labels("exit").inc()
    return _dossier_response(dossier)


@router.post(
    "/{dossier_id}/no-show",
    response_model=DossierOut,
    responses=ACT,
    summary="OF declares the élu did not come: rights consumed (R-DOS-5)",
)
async def declare_no_show(
    dossier_id: UUID, body: ReasonIn, principal: Organisme, ctx: ContextDep
) -> Response:
    return _dossier_response(await uc.declare_no_show(ctx, as_organisme(principal), dossier_id, body.reason))


@router.post(
    "/{dossier_id}/acceptance",
    response_model=DossierOut,
    responses=ACT,
    summary="The élu accepts the proposal, once funding said plan_ready (R-DOS-1)",
)
async def accept(dossier_id: UUID, principal: Elu, ctx: ContextDep) -> Response:
    return _dossier_response(await uc.accept(ctx, as_elu(principal), dossier_id))


@router.post(
    "/{dossier_id}/evaluation",
    response_model=DossierOut,
    responses=ACT,
    summary="The élu rates the training 1–5, once, after it is completed (R-DOS-6)",
)
async def evaluate(dossier_id: UUID, body: EvaluationIn, principal: Elu, ctx: ContextDep) -> Response:
    return _dossier_response(await uc.evaluate(ctx, as_elu(principal), dossier_id, body.rating, body.comment))
