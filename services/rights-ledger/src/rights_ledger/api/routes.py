"""Routers of the ledger. Each endpoint names its roles; élus are held to their own account."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Mapping
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from dife_contracts.enums import RneFileType
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import JSONResponse
from servicekit.api import SessionDep
from servicekit.auth import Principal, require_roles
from servicekit.errors import problem_responses
from servicekit.idempotency import idempotent
from servicekit.jobs_api import JobOut, job_routes, submit_job
from servicekit.outbox import SessionOutbox
from servicekit.pagination import Page, PageDep
from servicekit.rules import RuleBroken
from servicekit.shortcuts import ReadShortcut
from servicekit.state import kit_state
from starlette.datastructures import UploadFile

from rights_ledger.adapters.accounts import AccountRepository
from rights_ledger.adapters.elus import EluRecord, EluRepository
from rights_ledger.adapters.uploads import UploadStore
from rights_ledger.api.schemas import (
    AccountOut,
    ActivationIn,
    AdjustmentIn,
    AdjustmentOut,
    CampaignIn,
    EluOut,
    ExpiryRunIn,
    HoldOut,
    MandateOut,
    MovementOut,
    PensionIn,
    RevocationIn,
)
from rights_ledger.api.state import LedgerDep, LedgerState
from rights_ledger.use_cases import ACCRUAL_CAMPAIGN, EXPIRY_RUN, RNE_IMPORT
from rights_ledger.use_cases import accounts as account_cases
from rights_ledger.use_cases import registry as registry_cases
from rights_ledger.use_cases.campaigns import campaign_params, expiry_params
from rights_ledger.use_cases.registry import UPLOAD_CHUNK_BYTES

Agent = Annotated[Principal, Depends(require_roles("agent"))]
Staff = Annotated[Principal, Depends(require_roles("agent", "ops"))]
EluOrAgent = Annotated[Principal, Depends(require_roles("elu", "agent"))]
Elu = Annotated[Principal, Depends(require_roles("elu"))]

MAX_RNE_FILE_BYTES = 512 * 1024 * 1024
"""The body limit of an RNE upload (servicekit's guard answers 413 past it, counting as the body streams)."""


registry = APIRouter(prefix="/v1", tags=["registry"])


@registry.post(
    "/registry/imports",
    status_code=202,
    response_model=JobOut,
    summary="Import an RNE file as a snapshot of one mandate type (R-REG-1, R-REG-2)",
    responses=problem_responses(401, 403, 409, 413, 422),
    openapi_extra={
        "requestBody": {
            "content": {
                "text/csv": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"file": {"type": "string", "format": "binary"}},
                        "required": ["file"],
                    }
                },
            }
        }
    },
)
async def post_import(
    request: Request,
    session: SessionDep,
    principal: Agent,
    file_type: RneFileType,
    snapshot_date: date,
    force: Annotated[
        bool, Query(description="Import past the rejected and ended limits (R-REG-1/2)")
    ] = False,
    dry_run: Annotated[bool, Query(description="Report what would change, change nothing")] = False,
) -> JSONResponse:
    """The body is the CSV itself, or a `multipart/form-data` form with the file in the field `file` (what
    an HTML file input sends). Refused above the settings' limits unless `force=true` (R-REG-1, R-REG-2).
    The file is stored in chunks as it streams in, never held whole in memory (the job reads it back the
    same way)."""
    uploads = UploadStore(session)
    stored = await registry_cases.store_upload(uploads, _uploaded_pieces(request))
    params = {
        "file_type": file_type.value,
        "snapshot_date": snapshot_date.isoformat(),
        "force": force,
        "dry_run": dry_run,
        "upload_id": str(stored.upload_id),
        "upload_lines": stored.lines,
    }
    submitted = False

    async def compute() -> tuple[int, Any]:
        nonlocal submitted
        job = await submit_job(request, session, kind=RNE_IMPORT, params=params, principal=principal)
        submitted = True
        return 202, job

    answer = await idempotent(session, request, principal, compute, body_digest=stored.sha256)
    if not submitted:
        await uploads.delete(stored.upload_id)  # a replayed request: its file was imported already
    return answer


async def _uploaded_pieces(request: Request) -> AsyncIterator[bytes]:
    """The CSV body itself, or the ``file`` field of a form (spooled to disk by the form parser), piece by
    piece (servicekit's guard limits the size as the body streams)."""
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        async with request.form(max_files=1, max_fields=10) as form:
            upload = form.get("file")
            if not isinstance(upload, UploadFile):
                raise RuleBroken(
                    "R-REG-1", "the form carries the RNE file in a field named 'file'", field="file"
                )
            while piece := await upload.read(UPLOAD_CHUNK_BYTES):
                yield piece
        return
    async for piece in request.stream():
        if piece:
            yield piece


job_routes(registry, path="/registry/imports", kind=RNE_IMPORT, roles=("agent",), create=False)


elus_router = APIRouter(prefix="/v1", tags=["élus"])


def _elu_out(elu: EluRecord) -> EluOut:
    return EluOut(
        elu_id=elu.elu_id,
        family_name=elu.family_name,
        given_names=elu.given_names,
        birth_date=elu.birth_date,
        pension_liquidated_on=elu.pension_liquidated_on,
        mandates=[MandateOut.model_validate(m, from_attributes=True) for m in elu.mandates],
    )


@elus_router.get("/elus", response_model=Page[EluOut], responses=problem_responses(401, 403, 422))
async def search_elus(
    session: SessionDep,
    principal: Agent,
    page: PageDep,
    family_name: Annotated[str | None, Query(max_length=200)] = None,
    given_names: Annotated[str | None, Query(max_length=200)] = None,
    birth_date: date | None = None,
) -> Page[EluOut]:
    """R-REG-2: names are compared normalised (case, accents, hyphens, spaces)."""
    after = page.after(types=[UUID])
    found = await account_cases.find_elus(
        EluRepository(session),
        family_name=family_name,
        given_names=given_names,
        birth_date=birth_date,
        after=after[0] if after else None,
        limit=page.limit,
    )
    items = [_elu_out(elu) for elu in found]
    return Page.from_overfetch(items, limit=page.limit, cursor_values=lambda e: (e.elu_id,))


@elus_router.get("/elus/{elu_id}", response_model=EluOut, responses=problem_responses(401, 403, 404))
async def get_elu(elu_id: UUID, session: SessionDep, principal: EluOrAgent) -> EluOut:
    elu = await account_cases.get_elu(AccountRepository(session), EluRepository(session), principal, elu_id)
    return _elu_out(elu)


@elus_router.post(
    "/elus/{elu_id}/pension-liquidation", status_code=204, responses=problem_responses(401, 403, 404, 422)
)
async def post_pension(elu_id: UUID, body: PensionIn, session: SessionDep, principal: Agent) -> None:
    """R-END-1: from this date on, no reinsertion training; the rights expire at the end of the mandates."""
    await account_cases.record_pension(EluRepository(session), SessionOutbox(session), elu_id, body.date)


accounts_router = APIRouter(prefix="/v1", tags=["accounts"])


@accounts_router.post(
    "/accounts/activation", response_model=AccountOut, responses=problem_responses(401, 403, 409, 422)
)
async def post_activation(
    ledger: LedgerDep, body: ActivationIn, session: SessionDep, principal: Elu
) -> AccountOut:
    """R-ACT-1 / R-REG-3: link the account of the one matching élu to the caller's login."""
    view = await account_cases.activate(
        AccountRepository(session),
        EluRepository(session),
        ledger.clock,
        principal,
        nir=body.nir,
        commune_code=body.commune_code,
        nir_key=ledger.settings.nir_key_bytes,
    )
    return AccountOut.model_validate(view)


@accounts_router.post(
    "/accounts/{elu_id}/activation/revocation",
    response_model=AccountOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def post_revocation(
    ledger: LedgerDep, elu_id: UUID, body: RevocationIn, session: SessionDep, principal: Agent
) -> AccountOut:
    """R-ACT-1: an agent unlinks a wrongly activated account (audited with the reason); the rights stay and
    the élu can activate again."""
    view = await account_cases.revoke_activation(
        AccountRepository(session), ledger.clock, principal, elu_id, reason=body.reason
    )
    return AccountOut.model_validate(view)


@accounts_router.get(
    "/accounts/{elu_id}", response_model=AccountOut, responses=problem_responses(401, 403, 404)
)
async def get_account(ledger: LedgerDep, elu_id: UUID, principal: EluOrAgent) -> AccountOut:
    """Balance, holds, what is available and what the mandates allow (R-ACC-2, R-END-1)."""
    return await _account(ledger, principal, elu_id)


async def _account(ledger: LedgerState, principal: Principal, elu_id: UUID) -> AccountOut:
    view = await account_cases.read_own_account(
        ledger.account_reader, principal, elu_id, ledger.clock.today()
    )
    return AccountOut.model_validate(view)


async def _account_shortcut(
    ledger: LedgerState, principal: Principal, params: Mapping[str, Any]
) -> AccountOut:
    return await _account(ledger, principal, params["elu_id"])


BALANCE_READ = ReadShortcut("/v1/accounts/{elu_id}", _account_shortcut)
"""The hottest read (issue 17): its 200s skip FastAPI's routing and dependencies (`servicekit.shortcuts`)."""


@accounts_router.get(
    "/accounts/{elu_id}/movements",
    response_model=Page[MovementOut],
    responses=problem_responses(401, 403, 422),
)
async def get_movements(
    elu_id: UUID, session: SessionDep, principal: EluOrAgent, page: PageDep
) -> Page[MovementOut]:
    after = page.after(types=[int])
    rows = await account_cases.movements_page(
        AccountRepository(session),
        EluRepository(session),
        principal,
        elu_id,
        after_seq=after[0] if after else None,
        limit=page.limit,
    )
    cursor = {r.id: r.seq for r in rows}
    items = [MovementOut.model_validate(r, from_attributes=True) for r in rows]
    return Page.from_overfetch(items, limit=page.limit, cursor_values=lambda m: (cursor[m.id],))


@accounts_router.get(
    "/accounts/{elu_id}/holds", response_model=list[HoldOut], responses=problem_responses(401, 403, 422)
)
async def get_holds(
    elu_id: UUID,
    session: SessionDep,
    principal: EluOrAgent,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> list[HoldOut]:
    """The élu's holds, newest first: status, amount, dossier, purpose, and why a request was rejected."""
    found = await account_cases.holds_of(
        AccountRepository(session), EluRepository(session), principal, elu_id, limit=limit
    )
    return [HoldOut.model_validate(h) for h in found]


@accounts_router.post(
    "/accounts/{elu_id}/adjustments",
    status_code=201,
    response_model=AdjustmentOut,
    responses=problem_responses(401, 403, 404, 409, 422),
)
async def post_adjustment(
    request: Request,
    ledger: LedgerDep,
    elu_id: UUID,
    body: AdjustmentIn,
    session: SessionDep,
    principal: Agent,
) -> JSONResponse:
    """Audited correction (agent): never below 0 or the holds, never above the cap (R-ACC-2)."""

    async def compute() -> tuple[int, Any]:
        result = await account_cases.adjust(
            AccountRepository(session),
            ledger.clock,
            principal,
            elu_id,
            amount_cents=body.amount_cents,
            reason=body.reason,
        )
        return 201, AdjustmentOut(**dataclasses.asdict(result))

    return await idempotent(session, request, principal, compute)


campaigns = APIRouter(prefix="/v1", tags=["crediting and expiry"])


async def _campaign_params(request: Request, body: CampaignIn, principal: Principal) -> dict[str, Any]:
    """R-ACC-1..4: credit the year's rights of one family's élus; running it twice credits nobody twice.
    R-ACC-3: refused before the campaign's date (Paris)."""
    return campaign_params(body.family, body.year, kit_state(request.app).clock)


async def _expiry_params(request: Request, body: ExpiryRunIn, principal: Principal) -> dict[str, Any]:
    """R-END-1: expire the balances whose 6-month window is over; ``as_of`` is today at the latest."""
    return expiry_params(body.as_of, kit_state(request.app).clock)


job_routes(
    campaigns,
    path="/accrual-campaigns",
    kind=ACCRUAL_CAMPAIGN,
    roles=("agent", "ops"),
    body=CampaignIn,
    prepare=_campaign_params,
    summary="Run a crediting campaign (R-ACC-1..4), from its date on (R-ACC-3)",
)
job_routes(
    campaigns,
    path="/expiry-runs",
    kind=EXPIRY_RUN,
    roles=("agent", "ops"),
    body=ExpiryRunIn,
    prepare=_expiry_params,
    summary="Expire the rights whose window of use is over (R-END-1), as of today at the latest",
)


ROUTERS = [registry, elus_router, accounts_router, campaigns]
READ_SHORTCUTS = [BALANCE_READ]
