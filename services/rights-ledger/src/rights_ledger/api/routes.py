"""Routers of the ledger. Each endpoint names its roles; élus are held to their own account."""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime
from typing import Annotated, Any
from uuid import UUID

from dife_contracts.enums import RneFileType
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from servicekit.api import SessionDep
from servicekit.auth import Principal, require_roles
from servicekit.errors import DomainError, NotFound, problem_responses
from servicekit.idempotency import idempotent
from servicekit.pagination import Page, PageParams

from rights_ledger.adapters.jobs import create_job, get_job
from rights_ledger.api.schemas import (
    AccountOut,
    ActivationIn,
    AdjustmentIn,
    AdjustmentOut,
    CampaignIn,
    EluOut,
    ExpiryRunIn,
    JobOut,
    MandateOut,
    MovementOut,
    PensionIn,
)
from rights_ledger.use_cases import accounts as account_cases

Agent = Annotated[Principal, Depends(require_roles("agent"))]
Staff = Annotated[Principal, Depends(require_roles("agent", "ops"))]
EluOrAgent = Annotated[Principal, Depends(require_roles("elu", "agent"))]
Elu = Annotated[Principal, Depends(require_roles("elu"))]

MAX_RNE_FILE_BYTES = 512 * 1024 * 1024


class _TooLarge(DomainError):
    status = 413
    type = "https://dife.gouv.fr/problems/payload-too-large"
    title = "Payload too large"


def _job_out(job: Any) -> JobOut:
    values = dataclasses.asdict(job)
    values["id"] = values.pop("job_id")
    return JobOut(**values)


def _wake_jobs(request: Request) -> None:
    runner = request.app.state.kit.extras.get("job_runner")
    if runner is not None:
        runner.wake.set()


registry = APIRouter(prefix="/v1", tags=["registry"])


@registry.post(
    "/registry/imports",
    status_code=202,
    response_model=JobOut,
    summary="Import an RNE file as a snapshot of one mandate type (R-REG-1, R-REG-2)",
    responses=problem_responses(401, 403, 409, 413, 422),
    openapi_extra={
        "requestBody": {"content": {"text/csv": {"schema": {"type": "string", "format": "binary"}}}}
    },
)
async def post_import(
    request: Request,
    session: SessionDep,
    principal: Agent,
    file_type: RneFileType,
    snapshot_date: date,
) -> JSONResponse:
    body = await request.body()
    if len(body) > MAX_RNE_FILE_BYTES:
        raise _TooLarge(f"an RNE file is at most {MAX_RNE_FILE_BYTES} bytes")

    async def compute() -> tuple[int, Any]:
        job = await create_job(
            session,
            kind="rne_import",
            params={"file_type": file_type.value, "snapshot_date": snapshot_date.isoformat()},
            created_by=principal.sub,
            payload=body,
        )
        return 202, _job_out(job)

    response = await idempotent(session, request, principal, compute)
    _wake_jobs(request)
    return response


@registry.get("/registry/imports/{job_id}", response_model=JobOut, responses=problem_responses(401, 403, 404))
async def get_import(job_id: UUID, session: SessionDep, principal: Agent) -> JobOut:
    job = await get_job(session, job_id, "rne_import")
    if job is None:
        raise NotFound("no such import")
    return _job_out(job)


elus_router = APIRouter(prefix="/v1", tags=["élus"])


async def _elus_out(session: SessionDep, rows: list[Any]) -> list[EluOut]:
    by_elu = await account_cases.mandates_by_elu(session, [r.elu_id for r in rows])
    return [
        EluOut(
            elu_id=r.elu_id,
            family_name=r.family_name,
            given_names=r.given_names,
            birth_date=r.birth_date,
            pension_liquidated_on=r.pension_liquidated_on,
            mandates=[MandateOut.model_validate(m, from_attributes=True) for m in by_elu[r.elu_id]],
        )
        for r in rows
    ]


@elus_router.get("/elus", response_model=Page[EluOut], responses=problem_responses(401, 403, 422))
async def search_elus(
    session: SessionDep,
    principal: Agent,
    page: Annotated[PageParams, Depends()],
    family_name: Annotated[str | None, Query(max_length=200)] = None,
    given_names: Annotated[str | None, Query(max_length=200)] = None,
    birth_date: date | None = None,
) -> Page[EluOut]:
    """R-REG-2: names are compared normalised (case, accents, hyphens, spaces)."""
    after = page.after(types=[UUID])
    rows = await account_cases.find_elus(
        session,
        family_name=family_name,
        given_names=given_names,
        birth_date=birth_date,
        after=after[0] if after else None,
        limit=page.limit,
    )
    items = await _elus_out(session, rows)
    return Page.from_overfetch(items, limit=page.limit, cursor_values=lambda e: (e.elu_id,))


@elus_router.get("/elus/{elu_id}", response_model=EluOut, responses=problem_responses(401, 403, 404))
async def get_elu(elu_id: UUID, session: SessionDep, principal: EluOrAgent) -> EluOut:
    await account_cases.ensure_owner(session, principal, elu_id)
    rows = await account_cases.find_elus_by_id(session, elu_id)
    if not rows:
        raise NotFound("no such élu")
    return (await _elus_out(session, rows))[0]


@elus_router.post(
    "/elus/{elu_id}/pension-liquidation", status_code=204, responses=problem_responses(401, 403, 404, 422)
)
async def post_pension(elu_id: UUID, body: PensionIn, session: SessionDep, principal: Agent) -> None:
    """R-END-1: from this date on, no reinsertion training; the rights expire at the end of the mandates."""
    await account_cases.record_pension(session, elu_id, body.date)


accounts_router = APIRouter(prefix="/v1", tags=["accounts"])


@accounts_router.post(
    "/accounts/activation", response_model=AccountOut, responses=problem_responses(401, 403, 409, 422)
)
async def post_activation(
    request: Request, body: ActivationIn, session: SessionDep, principal: Elu
) -> AccountOut:
    """R-ACT-1 / R-REG-3: link the account of the one matching élu to the caller's login."""
    view = await account_cases.activate(
        session,
        principal,
        nir=body.nir,
        family_name=body.family_name,
        given_names=body.given_names,
        birth_date=body.birth_date,
        nir_key=request.app.state.ledger_settings.nir_key_bytes,
    )
    return AccountOut(**dataclasses.asdict(view))


@accounts_router.get(
    "/accounts/{elu_id}", response_model=AccountOut, responses=problem_responses(401, 403, 404)
)
async def get_account(request: Request, elu_id: UUID, principal: EluOrAgent) -> AccountOut:
    """Balance, holds, what is available and what the mandates allow (R-ACC-2, R-END-1)."""
    reader = request.app.state.kit.extras["account_reader"]
    view = await account_cases.read_own_account(reader, principal, elu_id, datetime.now(UTC).date())
    return AccountOut(**dataclasses.asdict(view))


@accounts_router.get(
    "/accounts/{elu_id}/movements",
    response_model=Page[MovementOut],
    responses=problem_responses(401, 403, 422),
)
async def get_movements(
    elu_id: UUID, session: SessionDep, principal: EluOrAgent, page: Annotated[PageParams, Depends()]
) -> Page[MovementOut]:
    await account_cases.ensure_owner(session, principal, elu_id)
    after = page.after(types=[int])
    rows = await account_cases.movements_page(
        session, elu_id, after_seq=after[0] if after else None, limit=page.limit
    )
    cursor = {r.id: r.seq for r in rows}
    items = [MovementOut.model_validate(r, from_attributes=True) for r in rows]
    return Page.from_overfetch(items, limit=page.limit, cursor_values=lambda m: (cursor[m.id],))


@accounts_router.post(
    "/accounts/{elu_id}/adjustments",
    status_code=201,
    response_model=AdjustmentOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def post_adjustment(
    request: Request, elu_id: UUID, body: AdjustmentIn, session: SessionDep, principal: Agent
) -> JSONResponse:
    """Audited correction (agent): never below 0 or the holds, never above the cap (R-ACC-2)."""

    async def compute() -> tuple[int, Any]:
        result = await account_cases.adjust(
            session, principal, elu_id, amount_cents=body.amount_cents, reason=body.reason
        )
        return 201, AdjustmentOut(**result)

    return await idempotent(session, request, principal, compute)


campaigns = APIRouter(prefix="/v1", tags=["crediting and expiry"])


@campaigns.post(
    "/accrual-campaigns",
    status_code=202,
    response_model=JobOut,
    responses=problem_responses(401, 403, 409, 422),
)
async def post_campaign(
    request: Request, body: CampaignIn, session: SessionDep, principal: Staff
) -> JSONResponse:
    """R-ACC-1..4: credit the year's rights of one family's élus; running it twice credits nobody twice."""

    async def compute() -> tuple[int, Any]:
        job = await create_job(
            session,
            kind="accrual_campaign",
            params={"family": body.family.value, "year": body.year},
            created_by=principal.sub,
        )
        return 202, _job_out(job)

    response = await idempotent(session, request, principal, compute)
    _wake_jobs(request)
    return response


@campaigns.get(
    "/accrual-campaigns/{job_id}", response_model=JobOut, responses=problem_responses(401, 403, 404)
)
async def get_campaign(job_id: UUID, session: SessionDep, principal: Staff) -> JobOut:
    job = await get_job(session, job_id, "accrual_campaign")
    if job is None:
        raise NotFound("no such campaign")
    return _job_out(job)


@campaigns.post(
    "/expiry-runs", status_code=202, response_model=JobOut, responses=problem_responses(401, 403, 409, 422)
)
async def post_expiry_run(
    request: Request, body: ExpiryRunIn, session: SessionDep, principal: Staff
) -> JSONResponse:
    """R-END-1: expire, as explicit movements, the balances whose 6-month window is over."""

    async def compute() -> tuple[int, Any]:
        job = await create_job(
            session, kind="expiry_run", params={"as_of": body.as_of.isoformat()}, created_by=principal.sub
        )
        return 202, _job_out(job)

    response = await idempotent(session, request, principal, compute)
    _wake_jobs(request)
    return response


@campaigns.get("/expiry-runs/{job_id}", response_model=JobOut, responses=problem_responses(401, 403, 404))
async def get_expiry_run(job_id: UUID, session: SessionDep, principal: Staff) -> JobOut:
    job = await get_job(session, job_id, "expiry_run")
    if job is None:
        raise NotFound("no such expiry run")
    return _job_out(job)


ROUTERS = [registry, elus_router, accounts_router, campaigns]
