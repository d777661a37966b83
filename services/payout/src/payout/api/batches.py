"""SEPA credit-transfer batches (R-PAY-3): ops and agents build, list, download, release, and import the
bank's status report."""

from __future__ import annotations

from datetime import date, datetime
from uuid import UUID

from fastapi import APIRouter, Request, Response, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from servicekit.api import SessionDep
from servicekit.errors import problem_responses
from servicekit.idempotency import idempotent
from servicekit.outbox import SessionOutbox
from servicekit.pagination import Page, PageDep
from servicekit.rules import NotFound, RuleBroken

from payout.adapters.pain002 import MAX_REPORT_BYTES
from payout.adapters.repository import BankDetailsRepository, BatchRepository, PaymentRepository
from payout.api.common import AgentOrOps, StateDep
from payout.domain.batches import Batch, BatchStatus
from payout.use_cases import batching

router = APIRouter(prefix="/v1/payment-batches", tags=["payment batches"])


class BatchOut(BaseModel):
    id: UUID
    message_id: str
    status: BatchStatus
    created_at: datetime
    execution_date: date
    released_at: datetime | None
    payment_count: int
    total_cents: int

    @classmethod
    def of(cls, batch: Batch) -> BatchOut:
        return cls(
            id=batch.batch_id,
            message_id=batch.message_id,
            status=batch.status,
            created_at=batch.created_at,
            execution_date=batch.execution_date,
            released_at=batch.released_at,
            payment_count=batch.payment_count,
            total_cents=batch.total_cents,
        )


class BuildOut(BaseModel):
    batch: BatchOut | None
    detail: str


class ReportOut(BaseModel):
    batch_id: UUID
    accepted: int
    rejected: int
    unchanged: int
    unknown_end_to_end_ids: list[str]


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=BuildOut,
    responses=problem_responses(401, 403, 409, 422),
    summary="Build a batch now of every payable payment (201), or say there is none (200)",
)
async def build_now(
    request: Request, session: SessionDep, state: StateDep, principal: AgentOrOps
) -> JSONResponse:
    async def compute() -> tuple[int, BuildOut]:
        batch = await batching.build_batch(
            PaymentRepository(session),
            BankDetailsRepository(session, state.vault),
            BatchRepository(session, state.vault),
            debtor=state.debtor,
            now=state.clock.now(),
            today=state.clock.today(),
            max_payments=state.settings.batch_max_payments,
        )
        if batch is None:
            return status.HTTP_200_OK, BuildOut(
                batch=None, detail="no payment is payable to verified bank details"
            )
        return status.HTTP_201_CREATED, BuildOut(batch=BatchOut.of(batch), detail="built and validated")

    return await idempotent(session, request, principal, compute)


@router.get("", response_model=Page[BatchOut], responses=problem_responses(401, 403, 422))
async def list_batches(
    session: SessionDep, state: StateDep, principal: AgentOrOps, page: PageDep
) -> Page[BatchOut]:
    batches = await BatchRepository(session, state.vault).page(
        after=page.after(types=(datetime, UUID)), limit=page.limit
    )
    return Page[BatchOut].from_overfetch(
        [BatchOut.of(batch) for batch in batches],
        limit=page.limit,
        cursor_values=lambda out: (out.created_at, out.id),
    )


@router.get("/{batch_id}", response_model=BatchOut, responses=problem_responses(401, 403, 404))
async def get_batch(batch_id: UUID, session: SessionDep, state: StateDep, principal: AgentOrOps) -> BatchOut:
    batch = await BatchRepository(session, state.vault).get(batch_id)
    if batch is None:
        raise NotFound(f"no payment batch {batch_id}")
    return BatchOut.of(batch)


@router.get(
    "/{batch_id}/file",
    response_class=Response,
    responses={200: {"content": {"application/xml": {}}}, **problem_responses(401, 403, 404)},
    summary="The batch's pain.001.001.09 file, as validated against the XSD",
)
async def download_file(
    batch_id: UUID, session: SessionDep, state: StateDep, principal: AgentOrOps
) -> Response:
    repo = BatchRepository(session, state.vault)
    batch = await repo.get(batch_id)
    document = await repo.file(batch_id)
    if batch is None or document is None:
        raise NotFound(f"no payment batch {batch_id}")
    return Response(
        document,
        media_type="application/xml",
        headers={"Content-Disposition": f'attachment; filename="{batch.message_id}.xml"'},
    )


@router.post(
    "/{batch_id}/release",
    response_model=BatchOut,
    responses=problem_responses(401, 403, 404, 409),
    summary="Release the batch to the bank: its payments are sent (payment_sent)",
)
async def release(batch_id: UUID, session: SessionDep, state: StateDep, principal: AgentOrOps) -> BatchOut:
    batch = await batching.release_batch(
        PaymentRepository(session),
        BatchRepository(session, state.vault),
        SessionOutbox(session, bulk=True),
        batch_id=batch_id,
        now=state.clock.now(),
    )
    return BatchOut.of(batch)


@router.post(
    "/{batch_id}/status-report",
    response_model=ReportOut,
    responses=problem_responses(401, 403, 404, 409, 413, 422),
    summary="Import the bank's pain.002 status report (body: the XML); a second import changes nothing",
    openapi_extra={
        "requestBody": {"content": {"application/xml": {"schema": {"type": "string"}}}, "required": True}
    },
)
async def import_status_report(
    batch_id: UUID, request: Request, session: SessionDep, state: StateDep, principal: AgentOrOps
) -> JSONResponse:
    document = await _bounded_body(request)

    async def compute() -> tuple[int, ReportOut]:
        result = await batching.import_status_report(
            PaymentRepository(session),
            BatchRepository(session, state.vault),
            SessionOutbox(session, bulk=True),
            batch_id=batch_id,
            document=document,
            now=state.clock.now(),
            today=state.clock.today(),
        )
        return status.HTTP_200_OK, ReportOut(
            batch_id=result.batch_id,
            accepted=result.accepted,
            rejected=result.rejected,
            unchanged=result.unchanged,
            unknown_end_to_end_ids=result.unknown_end_to_end_ids,
        )

    return await idempotent(session, request, principal, compute)


async def _bounded_body(request: Request) -> bytes:
    """The report's bytes, read once through `request.body()` (cached, so `idempotent` can hash it too:
    reading `request.stream()` here made every report sent with an `Idempotency-Key` a 500)."""
    body = await request.body()
    if len(body) > MAX_REPORT_BYTES:
        raise RuleBroken("R-PAY-3", "the status report is larger than 20 MB", field="file")
    if not body:
        raise RuleBroken(
            "R-PAY-3", "the status report is empty: send the pain.002 XML as the body", field="file"
        )
    return body
