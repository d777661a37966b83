"""Bank details of organismes (R-PAY-3): the organisme reads and proposes its own, an agent verifies.

The IBAN is returned in full only to agents; organismes see it masked. It is never logged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from uuid import UUID

from dife_contracts.values import Siret
from fastapi import APIRouter, Path, Query, Request, status
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from servicekit.api import SessionDep
from servicekit.auth import Principal
from servicekit.errors import problem_responses
from servicekit.idempotency import idempotent
from servicekit.rules import NotFound

from payout.adapters.repository import BankDetailsRepository, BankDetailsView
from payout.api.common import AgentOnly, OrganismeOrAgent, StateDep, ensure_own_siret, sees_every_organisme
from payout.domain.payees import BankDetailsStatus
from payout.use_cases import payees

router = APIRouter(tags=["payees"])

SiretPath = Annotated[Siret, Path(description="The organisme's SIRET (14 digits)")]


class BankDetailsIn(BaseModel):
    iban: str = Field(
        min_length=15, max_length=42, description="Checked with schwifty (format, check digits)"
    )
    bic: str = Field(min_length=8, max_length=11)
    holder_name: str = Field(min_length=1, max_length=70)


class DecisionIn(BaseModel):
    decision: Literal["verify", "refuse"]


class BankDetailsOut(BaseModel):
    id: UUID
    siret: str
    iban_masked: str
    iban: str | None = Field(description="In full for agents only; null for everyone else")
    bic: str
    holder_name: str
    status: BankDetailsStatus
    entered_by: str
    entered_at: datetime
    decided_by: str | None
    decided_at: datetime | None

    @classmethod
    def of(cls, view: BankDetailsView) -> BankDetailsOut:
        return cls(
            id=view.details_id,
            siret=view.siret,
            iban_masked=view.iban_masked,
            iban=view.iban,
            bic=view.bic,
            holder_name=view.holder_name,
            status=view.status,
            entered_by=view.entered_by,
            entered_at=view.entered_at,
            decided_by=view.decided_by,
            decided_at=view.decided_at,
        )


async def _out(repo: BankDetailsRepository, details_id: UUID, principal: Principal) -> BankDetailsOut:
    view = await repo.view_of(details_id, with_iban=sees_every_organisme(principal))
    if view is None:
        raise NotFound(f"no bank details {details_id}")
    return BankDetailsOut.of(view)


@router.get(
    "/v1/organismes/{siret}/bank-details",
    response_model=list[BankDetailsOut],
    responses=problem_responses(401, 403),
    summary="An organisme's bank details, newest first (an organisme: its own, masked; agents: in full)",
)
async def list_bank_details(
    siret: SiretPath, session: SessionDep, state: StateDep, principal: OrganismeOrAgent
) -> list[BankDetailsOut]:
    ensure_own_siret(principal, siret)
    repo = BankDetailsRepository(session, state.vault)
    views = await repo.views(siret=siret, status=None, with_iban=sees_every_organisme(principal))
    return [BankDetailsOut.of(view) for view in views]


@router.post(
    "/v1/organismes/{siret}/bank-details",
    status_code=status.HTTP_201_CREATED,
    response_model=BankDetailsOut,
    responses=problem_responses(401, 403, 409, 422),
    summary="Propose new bank details; they take effect once another agent verifies them (R-PAY-3)",
)
async def propose_bank_details(
    siret: SiretPath,
    body: BankDetailsIn,
    request: Request,
    session: SessionDep,
    state: StateDep,
    principal: OrganismeOrAgent,
) -> JSONResponse:
    ensure_own_siret(principal, siret)
    repo = BankDetailsRepository(session, state.vault)

    async def compute() -> tuple[int, BankDetailsOut]:
        details = await payees.propose(
            repo,
            siret=siret,
            iban=body.iban,
            bic=body.bic,
            holder_name=body.holder_name,
            entered_by=principal.sub,
            now=state.clock.now(),
        )
        return status.HTTP_201_CREATED, await _out(repo, details.details_id, principal)

    return await idempotent(session, request, principal, compute)


@router.get(
    "/v1/bank-details",
    response_model=list[BankDetailsOut],
    responses=problem_responses(401, 403),
    summary="Bank details to verify (agents): by default those pending, newest first",
)
async def bank_details_queue(
    session: SessionDep,
    state: StateDep,
    principal: AgentOnly,
    status_: Annotated[BankDetailsStatus, Query(alias="status")] = BankDetailsStatus.PENDING,
) -> list[BankDetailsOut]:
    repo = BankDetailsRepository(session, state.vault)
    views = await repo.views(siret=None, status=status_.value, with_iban=True)
    return [BankDetailsOut.of(view) for view in views]


@router.post(
    "/v1/bank-details/{details_id}/decision",
    response_model=BankDetailsOut,
    responses=problem_responses(401, 403, 404, 409, 422),
    summary="Verify or refuse bank details (agents; never the person who entered them: four eyes, R-PAY-3)",
)
async def decide_bank_details(
    details_id: UUID, body: DecisionIn, session: SessionDep, state: StateDep, principal: AgentOnly
) -> BankDetailsOut:
    repo = BankDetailsRepository(session, state.vault)
    details = await payees.decide(
        repo,
        details_id=details_id,
        agent=principal.sub,
        verify=body.decision == "verify",
        now=state.clock.now(),
    )
    return await _out(repo, details.details_id, principal)
