"""Co-funding envelopes and the collectivités' decisions on top-up requests (R-FUN-2)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from uuid import UUID, uuid4

from servicekit.rules import Conflict, InvalidTransition, NotFound

from funding.adapters.repositories import CofundingRequest, EnvelopeWithCreation
from funding.domain.cofunding import DecisionMode, Envelope, check_code_registration
from funding.use_cases.plans import commit_plan
from funding.use_cases.ports import Funding


@dataclass(frozen=True)
class NewEnvelope:
    collectivite_code: str
    deliberation_reference: str
    deliberation_date: date
    budget_cents: int
    per_elu_ceiling_cents: int
    valid_from: date
    valid_until: date
    decision_mode: DecisionMode
    themes: list[str]


async def create_envelope(funding: Funding, siren: str, new: NewEnvelope) -> Envelope:
    """R-FUN-2: a collectivité publishes envelopes only for a code it owns (its own élus)."""
    envelope = Envelope.create(
        envelope_id=uuid4(),
        siren=siren,
        collectivite_code=new.collectivite_code,
        deliberation_reference=new.deliberation_reference,
        deliberation_date=new.deliberation_date,
        budget_cents=new.budget_cents,
        per_elu_ceiling_cents=new.per_elu_ceiling_cents,
        valid_from=new.valid_from,
        valid_until=new.valid_until,
        decision_mode=new.decision_mode,
        themes=new.themes,
        today=funding.clock.today(),
        code_owner=await funding.codes.owner_of(new.collectivite_code),
    )
    await funding.envelopes.add(envelope)
    return envelope


@dataclass(frozen=True)
class CodeOwner:
    collectivite_code: str
    siren: str


async def register_code(
    funding: Funding, collectivite_code: str, siren: str, registered_by: str
) -> CodeOwner:
    """R-FUN-2: an agent records which SIREN owns a collectivité code; a code has one owner (a second
    registration to the same SIREN changes nothing, to another one is a conflict)."""
    check_code_registration(collectivite_code, siren)
    owner = await funding.codes.register(collectivite_code, siren, registered_by)
    if owner != siren:
        raise Conflict(f"the code {collectivite_code} already belongs to SIREN {owner}", rule_id="R-FUN-2")
    return CodeOwner(collectivite_code, owner)


async def code_owner(
    funding: Funding, collectivite_code: str, ensure_siren: Callable[[str], None]
) -> CodeOwner:
    owner = await funding.codes.owner_of(collectivite_code)
    if owner is None:
        raise NotFound(f"no SIREN registered for the collectivité code {collectivite_code}")
    ensure_siren(owner)
    return CodeOwner(collectivite_code, owner)


async def get_envelope(funding: Funding, envelope_id: UUID, ensure_siren: Callable[[str], None]) -> Envelope:
    envelope = await funding.envelopes.get(envelope_id)
    if envelope is None:
        raise NotFound(f"no envelope {envelope_id}")
    ensure_siren(envelope.siren)
    return envelope


async def list_envelopes(
    funding: Funding, siren: str | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[EnvelopeWithCreation]:
    return await funding.envelopes.list_of(siren, after, limit)


async def close_envelope(
    funding: Funding, envelope_id: UUID, ensure_siren: Callable[[str], None]
) -> Envelope:
    envelope = await funding.envelopes.get(envelope_id, for_update=True)
    if envelope is None:
        raise NotFound(f"no envelope {envelope_id}")
    ensure_siren(envelope.siren)
    envelope.close()
    await funding.envelopes.set_status(envelope)
    return envelope


async def list_requests(
    funding: Funding, siren: str | None, status: str | None, after: tuple[datetime, UUID] | None, limit: int
) -> list[CofundingRequest]:
    return await funding.requests.list_of(siren, status, after, limit)


async def decide_request(
    funding: Funding,
    request_id: UUID,
    *,
    approved: bool,
    amount_cents: int,
    ensure_siren: Callable[[str], None],
) -> CofundingRequest:
    """R-FUN-2: the collectivité grants at most what was asked; the rest goes back to its envelope."""
    request = await funding.requests.get(request_id)
    if request is None:
        raise NotFound(f"no co-funding request {request_id}")
    ensure_siren(request.siren)
    plan = await funding.plans.get(request.dossier_id, for_update=True)
    if plan is None or request.status != "pending":
        raise InvalidTransition(current=request.status, wanted="decide", allowed=())
    returned = plan.decide_topup(request_id, approved=approved, amount_cents=amount_cents)
    await funding.envelopes.give_back(request.envelope_id, request.elu_id, returned)
    request.granted_cents = request.requested_cents - returned
    request.status = "approved" if request.granted_cents else "refused"
    await funding.requests.set_status(request_id, request.status, request.granted_cents)
    await commit_plan(funding, plan)
    return request
