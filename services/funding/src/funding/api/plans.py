"""Plans: the élu (and agents) see the whole plan, the organisme only whether it is ready; the élu
completes it with CPF/CEC commitments and pays the reste à charge by card."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dife_contracts.enums import FundingSource, Role
from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from servicekit.api import SessionDep
from servicekit.auth import Principal, require_roles
from servicekit.errors import Forbidden, problem_responses
from servicekit.idempotency import idempotent

from funding.api.deps import FundingDep
from funding.api.schemas import CardPaymentOut, ExternalCommitmentIn, PlanOut, PlanReadinessOut
from funding.domain.plan import ExternalCommitment, PlanStatus
from funding.use_cases import card as card_cases
from funding.use_cases import plans as plan_cases

router = APIRouter(prefix="/v1/plans", tags=["plans"])

Reader = Annotated[Principal, Depends(require_roles("elu", "organisme", "agent", "ops"))]
Elu = Annotated[Principal, Depends(require_roles("elu"))]


@router.get(
    "/{dossier_id}",
    response_model=PlanOut | PlanReadinessOut,
    summary="A dossier's funding plan: lines, their status and what is missing (the OF: only readiness)",
    responses=problem_responses(401, 403, 404),
)
async def get_plan(dossier_id: UUID, funding: FundingDep, principal: Reader) -> PlanOut | PlanReadinessOut:
    plan = await plan_cases.get_plan(funding, dossier_id)
    if principal.is_staff or (principal.has_role(Role.ELU) and principal.elu_id == str(plan.elu_id)):
        return PlanOut.of(plan)
    if principal.has_role(Role.ORGANISME) and principal.siret == plan.facts.siret:
        return PlanReadinessOut(dossier_id=plan.dossier_id, ready=plan.status is PlanStatus.READY)
    raise Forbidden("only the élu of the dossier, its organisme or an agent may read this plan")


@router.post(
    "/{dossier_id}/external-commitments",
    status_code=201,
    response_model=PlanOut,
    summary="Complete a reinsertion training's plan with CPF or CEC rights (R-FUN-3)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def post_external_commitment(
    dossier_id: UUID,
    body: ExternalCommitmentIn,
    request: Request,
    session: SessionDep,
    funding: FundingDep,
    principal: Elu,
) -> JSONResponse:
    commitment = ExternalCommitment(FundingSource(body.source), body.reference, body.amount_cents)

    async def compute() -> tuple[int, PlanOut]:
        plan = await card_cases.add_external_commitment(funding, dossier_id, commitment, principal.ensure_elu)
        return 201, PlanOut.of(plan)

    return await idempotent(session, request, principal, compute)


@router.post(
    "/{dossier_id}/card-payment",
    status_code=201,
    response_model=CardPaymentOut,
    summary="A payment intent for the exact reste à charge, once every other line is secured (R-FUN-4)",
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def post_card_payment(
    dossier_id: UUID, request: Request, session: SessionDep, funding: FundingDep, principal: Elu
) -> JSONResponse:
    async def compute() -> tuple[int, CardPaymentOut]:
        intent = await card_cases.start_card_payment(funding, dossier_id, principal.ensure_elu)
        return 201, CardPaymentOut(
            intent_id=intent.intent_id,
            dossier_id=dossier_id,
            amount_cents=intent.amount_cents,
            status=intent.status,
        )

    return await idempotent(session, request, principal, compute)
