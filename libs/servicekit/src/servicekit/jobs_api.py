"""HTTP face of `servicekit.jobs`: the job resource, `GET /v1/jobs`, and a factory for a kind's endpoints.

    job_routes(router, path="/accrual-campaigns", kind="accrual_campaign", roles=("agent", "ops"),
               body=CampaignIn, prepare=check_campaign)

gives `POST /v1/accrual-campaigns` (202 and the job; `Idempotency-Key` honoured) and
`GET /v1/accrual-campaigns/{job_id}`. `prepare(request, body, principal)` turns the validated body into the
job's parameters and may refuse it by raising a `servicekit.rules` error; a kind whose input is a file writes
its own POST and uses `submit_job`.

No `from __future__ import annotations` here: the routes are built inside functions with local `Annotated`
aliases, and FastAPI resolves string annotations in the module's globals only.
"""

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.api import SessionDep
from servicekit.auth import Principal, require_roles
from servicekit.errors import problem_responses
from servicekit.idempotency import idempotent
from servicekit.jobs import Job, get_job, list_jobs, schedule
from servicekit.pagination import Page, PageDep
from servicekit.rules import NotFound
from servicekit.state import kit_state


class JobOut(BaseModel):
    """A background job: what it was asked, how far it is, and its report or error once finished."""

    model_config = ConfigDict(from_attributes=True)

    id: UUID
    kind: str
    status: Literal["pending", "running", "succeeded", "failed", "cancelled"]
    params: dict[str, Any]
    run_after: datetime
    rows_done: int
    rows_total: int
    report: dict[str, Any]
    error: str | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None

    @classmethod
    def of(cls, job: Job) -> "JobOut":
        return cls(
            id=job.job_id,
            kind=job.kind,
            status=job.status,
            params=job.params,
            run_after=job.run_after,
            rows_done=job.rows_done,
            rows_total=job.rows_total,
            report=job.report,
            error=job.error,
            created_at=job.created_at,
            started_at=job.started_at,
            finished_at=job.finished_at,
        )


async def submit_job(
    request: Request,
    session: AsyncSession,
    *,
    kind: str,
    params: dict[str, Any],
    principal: Principal,
    payload: bytes | None = None,
) -> "JobOut":
    """Create a job due now, in the request's transaction; the runner is woken by the commit's NOTIFY."""
    state = kit_state(request.app)
    job_id = await schedule(
        session,
        kind,
        run_after=state.clock.now(),
        params=params,
        payload=payload,
        created_by=principal.sub,
    )
    job = await get_job(session, job_id)
    assert job is not None
    return JobOut.of(job)


Prepare = Callable[[Request, Any, Principal], Awaitable[dict[str, Any]]]


def job_routes(
    router: APIRouter,
    *,
    path: str,
    kind: str,
    roles: Sequence[str],
    body: type[BaseModel] | None = None,
    prepare: Prepare | None = None,
    summary: str | None = None,
    create: bool = True,
) -> None:
    """Register `POST {path}` (202 + the job) and `GET {path}/{job_id}` for one job kind."""
    Caller = Annotated[Principal, Depends(require_roles(*roles))]

    if create:

        async def start(
            request: Request, session: SessionDep, principal: Principal, payload: Any
        ) -> JSONResponse:
            async def compute() -> tuple[int, Any]:
                params = await prepare(request, payload, principal) if prepare else _as_params(payload)
                job = await submit_job(request, session, kind=kind, params=params, principal=principal)
                return 202, job

            return await idempotent(session, request, principal, compute)

        post_job: Callable[..., Awaitable[JSONResponse]]
        if body is not None:  # the body is required and validated by its model
            Payload: Any = Annotated[body, Body()]

            async def post_job(
                request: Request, session: SessionDep, principal: Caller, payload: Payload
            ) -> JSONResponse:
                return await start(request, session, principal, payload)

        else:  # a job without parameters

            async def post_job(request: Request, session: SessionDep, principal: Caller) -> JSONResponse:
                return await start(request, session, principal, None)

        router.add_api_route(
            path,
            post_job,
            methods=["POST"],
            status_code=202,
            response_model=JobOut,
            summary=summary or f"Start a {kind} job",
            responses=problem_responses(401, 403, 409, 422),
            name=f"start_{kind}",
        )

    async def read_job(job_id: UUID, session: SessionDep, principal: Caller) -> JobOut:
        job = await get_job(session, job_id, kind=kind)
        if job is None:
            raise NotFound(f"no {kind} job {job_id}")
        return JobOut.of(job)

    router.add_api_route(
        f"{path}/{{job_id}}",
        read_job,
        methods=["GET"],
        response_model=JobOut,
        summary=f"A {kind} job: status, progress, report",
        responses=problem_responses(401, 403, 404),
        name=f"read_{kind}",
    )


def _as_params(payload: Any) -> dict[str, Any]:
    if payload is None:
        return {}
    if isinstance(payload, BaseModel):
        return payload.model_dump(mode="json")
    return dict(payload)


JobStatusFilter = Literal["pending", "running", "succeeded", "failed", "cancelled"]


def jobs_router(roles: Sequence[str] = ("agent", "ops")) -> APIRouter:
    """`GET /v1/jobs?kind=&status=` and `GET /v1/jobs/{job_id}`: every job of the service, for staff."""
    router = APIRouter(prefix="/v1", tags=["jobs"])
    Staff = Annotated[Principal, Depends(require_roles(*roles))]

    @router.get("/jobs", response_model=Page[JobOut], responses=problem_responses(401, 403, 422))
    async def list_all_jobs(
        session: SessionDep,
        principal: Staff,
        page: PageDep,
        kind: Annotated[str | None, Query(max_length=100, pattern=r"^[a-z0-9_.\-]+$")] = None,
        status: JobStatusFilter | None = None,
    ) -> Page[JobOut]:
        """Newest first."""
        after = page.after(types=[datetime, UUID])
        jobs = await list_jobs(
            session,
            kind=kind,
            status=status,
            before=(after[0], after[1]) if after else None,
            limit=page.limit,
        )
        items = [JobOut.of(job) for job in jobs]
        return Page.from_overfetch(items, limit=page.limit, cursor_values=lambda j: (j.created_at, j.id))

    @router.get("/jobs/{job_id}", response_model=JobOut, responses=problem_responses(401, 403, 404))
    async def read_any_job(job_id: UUID, session: SessionDep, principal: Staff) -> JobOut:
        job = await get_job(session, job_id)
        if job is None:
            raise NotFound(f"no job {job_id}")
        return JobOut.of(job)

    return router
