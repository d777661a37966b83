"""Offers and sessions, managed by their organisme (or an agent): terms R-OFR-1…5, agrément R-OF-1.

Every change that a published offer's readers must know goes to the outbox in the same transaction:
a new full ``offer_published`` snapshot (with its open sessions), ``offer_withdrawn``, ``session_cancelled``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any

from dife_contracts.enums import Modality, Role
from dife_contracts.events import OfferPublished, OfferWithdrawn, SessionCancelled
from dife_contracts.events.catalogue import OfferLocation, OfferSession
from fastapi import APIRouter, Depends, Request, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from servicekit.api import SessionDep
from servicekit.auth import Principal, require_roles
from servicekit.errors import NotFound, problem_responses
from servicekit.idempotency import idempotent
from sqlalchemy import Row
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.adapters import repository
from catalogue.api.common import OptionalPrincipal, domain_refusals, emit
from catalogue.api.schemas import (
    OfferFields,
    OfferIn,
    OfferOut,
    QualityOut,
    ReasonIn,
    SessionIn,
    SessionOut,
    SubcontractingOut,
    location_of,
    price_ttc_cents,
    vat_basis_points,
)
from catalogue.domain.offers import (
    OfferStatus,
    OfferTerms,
    ScheduledSession,
    SessionDates,
    SessionStatus,
    Subcontracting,
    Subcontractor,
    check_coverage,
    check_new_session,
    check_terms,
    ensure_cancellable,
    ensure_editable,
    ensure_publishable,
    ensure_withdrawable,
    seats_left,
    sessions_losing_agrement,
)
from catalogue.domain.organismes import Agrement
from catalogue.domain.themes import theme_for

router = APIRouter(prefix="/v1/offers", tags=["offers"])

Seller = Annotated[Principal, Depends(require_roles(Role.ORGANISME, Role.AGENT))]
PROBLEMS = problem_responses(401, 403, 404, 409, 422)


def _field_error(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([{"loc": ("body", field), "msg": message, "type": "value_error"}])


async def _subcontractor(session: AsyncSession, siret: str | None) -> Subcontractor | None:
    if siret is None:
        return None
    known = await repository.get_organisme(session, siret) is not None
    return Subcontractor(siret, await repository.agrements_of(session, siret) if known else None)


def _terms(row: dict[str, Any]) -> OfferTerms:
    sub_siret = row["subcontractor_siret"]
    return OfferTerms(
        kind=row["kind"],
        theme_code=row["theme_code"],
        certification_code=row["certification_code"],
        hours=row["hours"],
        price_ht_cents=row["price_ht_cents"],
        subcontracting=(
            Subcontracting(sub_siret, row["subcontracting_share_percent"]) if sub_siret is not None else None
        ),
    )


def _editable_values(fields: dict[str, Any]) -> dict[str, Any]:
    """Column values of the fields a request sets (a PATCH sets only some)."""
    values: dict[str, Any] = {}
    for name in ("title", "summary", "objectives", "hours", "price_ht_cents", "modality"):
        if name in fields and fields[name] is not None:
            values[name] = fields[name]
    for name in ("theme_code", "certification_code"):
        if name in fields:
            values[name] = fields[name]
    if "theme_code" in fields:
        theme = theme_for(fields["theme_code"]) if fields["theme_code"] else None
        values["theme_label"] = theme.label if theme else None
    if fields.get("vat_rate") is not None:
        values["vat_rate_bp"] = vat_basis_points(fields["vat_rate"])
    if "location" in fields:
        location = fields["location"] or {}
        for name in ("commune_insee", "postal_code", "city", "department", "region", "lat", "lon"):
            values[name] = location.get(name)
    if "subcontracting" in fields:
        sub = fields["subcontracting"]
        values["subcontractor_siret"] = sub["siret"] if sub else None
        values["subcontracting_share_percent"] = sub["share_percent"] if sub else None
    return values


async def _owned_offer(
    session: AsyncSession, offer_id: uuid.UUID, principal: Principal, *, lock: bool = True
) -> Row[Any]:
    row = await repository.get_offer(session, offer_id, lock=lock)
    if row is None:
        raise NotFound(f"no offer {offer_id}")
    principal.ensure_siret(row.siret)
    return row


def _session_out(row: Row[Any]) -> SessionOut:
    return SessionOut(
        id=row.id,
        start_date=row.start_date,
        end_date=row.end_date,
        capacity=row.capacity,
        seats_taken=row.seats_taken,
        seats_left=seats_left(row.capacity, row.seats_taken) if row.status == SessionStatus.OPEN else 0,
        status=row.status,
    )


async def offer_out(session: AsyncSession, offer_id: uuid.UUID) -> OfferOut:
    row = await repository.get_offer(session, offer_id)
    if row is None:
        raise NotFound(f"no offer {offer_id}")
    sessions = await repository.sessions_of(session, offer_id)
    return OfferOut(
        id=row.id,
        siret=row.siret,
        organisme_name=row.organisme_name,
        status=row.status,
        kind=row.kind,
        title=row.title,
        summary=row.summary,
        objectives=row.objectives,
        theme_code=row.theme_code,
        theme_label=row.theme_label,
        certification_code=row.certification_code,
        hours=row.hours,
        price_ht_cents=row.price_ht_cents,
        vat_rate=Decimal(row.vat_rate_bp) / 100,
        price_ttc_cents=row.price_ttc_cents,
        modality=row.modality,
        location=location_of(row),
        subcontracting=(
            SubcontractingOut(siret=row.subcontractor_siret, share_percent=row.subcontracting_share_percent)
            if row.subcontractor_siret
            else None
        ),
        sessions=[_session_out(s) for s in sessions if s.status == SessionStatus.OPEN],
        quality=QualityOut.of(row.rating_count, row.rating_sum),
        published_at=row.published_at,
        withdrawn_at=row.withdrawn_at,
    )


async def _snapshot(session: AsyncSession, offer_id: uuid.UUID) -> OfferPublished:
    """The full offer as published, with its open sessions: what dossier and funding keep of it."""
    row = await repository.get_offer(session, offer_id)
    assert row is not None
    sessions = await repository.sessions_of(session, offer_id)
    location = None
    if row.department is not None:
        location = OfferLocation(
            commune_insee=row.commune_insee,
            postal_code=row.postal_code,
            city=row.city,
            department=row.department,
            region=row.region,
        )
    return OfferPublished(
        offer_id=row.id,
        siret=row.siret,
        kind=row.kind,
        title=row.title,
        theme_code=row.theme_code,
        certification_code=row.certification_code,
        hours=row.hours,
        price_ht_cents=row.price_ht_cents,
        price_ttc_cents=row.price_ttc_cents,
        vat_rate_bp=row.vat_rate_bp,
        modality=row.modality,
        location=location,
        sessions=[
            OfferSession(session_id=s.id, start_date=s.start_date, end_date=s.end_date, capacity=s.capacity)
            for s in sessions
            if s.status == SessionStatus.OPEN
        ],
        published_at=row.published_at or datetime.now(UTC),
    )


async def _check_terms(session: AsyncSession, values: dict[str, Any], seller: str) -> Subcontractor | None:
    subcontractor = await _subcontractor(session, values["subcontractor_siret"])
    with domain_refusals():
        check_terms(
            _terms(values), seller_siret=seller, subcontractor=subcontractor, today=date.today()
        ).raise_if_any()
    return subcontractor


@router.post("", status_code=status.HTTP_201_CREATED, response_model=OfferOut, responses=PROBLEMS)
async def create_offer(
    body: OfferIn, request: Request, session: SessionDep, principal: Seller
) -> JSONResponse:
    """A draft offer of the caller's organisme; every rule its terms break is listed in one 422."""
    siret = body.siret or principal.siret
    if siret is None:
        raise _field_error("siret", "an agent names the organisme that sells the offer")
    principal.ensure_siret(siret)

    async def compute() -> tuple[int, OfferOut]:
        if await repository.get_organisme(session, siret) is None:
            raise NotFound(f"no organisme with SIRET {siret}")
        fields = body.model_dump(exclude={"siret", "kind"})
        values = {
            "subcontractor_siret": None,
            "subcontracting_share_percent": None,
            "vat_rate_bp": 0,
            **_editable_values(fields),
            "kind": body.kind,
        }
        await _check_terms(session, values, siret)
        offer_id = uuid.uuid4()
        values.update(
            id=offer_id,
            siret=siret,
            status=OfferStatus.DRAFT,
            price_ttc_cents=price_ttc_cents(values["price_ht_cents"], values["vat_rate_bp"]),
        )
        await repository.insert_offer(session, values)
        return status.HTTP_201_CREATED, await offer_out(session, offer_id)

    return await idempotent(session, request, principal, compute)


@router.get("/{offer_id}", response_model=OfferOut, responses=problem_responses(404))
async def get_offer(offer_id: uuid.UUID, session: SessionDep, principal: OptionalPrincipal) -> OfferOut:
    """Public for a published or withdrawn offer; a draft only to its organisme and agents."""
    offer = await offer_out(session, offer_id)
    if offer.status == OfferStatus.DRAFT:
        if principal is None:
            raise NotFound(f"no offer {offer_id}")
        principal.ensure_siret(offer.siret)
    return offer


@router.patch("/{offer_id}", response_model=OfferOut, responses=PROBLEMS)
async def update_offer(
    offer_id: uuid.UUID, body: OfferFields, session: SessionDep, principal: Seller
) -> OfferOut:
    """Change some terms; the whole offer is checked again, and a published offer is published again."""
    row = await _owned_offer(session, offer_id, principal)
    with domain_refusals():
        ensure_editable(OfferStatus(row.status))
    changes = _editable_values(body.model_dump(exclude_unset=True))
    merged = {**row._asdict(), **changes}
    if merged["modality"] != Modality.REMOTE and merged["department"] is None:
        raise _field_error("location", "an in-person or mixed training needs a location")
    subcontractor = await _check_terms(session, merged, row.siret)
    published = row.status == OfferStatus.PUBLISHED
    if published:
        open_sessions = [
            SessionDates(s.start_date, s.end_date)
            for s in await repository.sessions_of(session, offer_id)
            if s.status == SessionStatus.OPEN
        ]
        agrements = await repository.agrements_of(session, row.siret)
        with domain_refusals():
            check_coverage(row.kind, open_sessions, agrements, subcontractor).raise_if_any()
    changes["price_ttc_cents"] = price_ttc_cents(merged["price_ht_cents"], merged["vat_rate_bp"])
    await repository.update_offer(session, offer_id, changes)
    if published:
        await emit(session, await _snapshot(session, offer_id))
    return await offer_out(session, offer_id)


@router.post(
    "/{offer_id}/sessions", status_code=status.HTTP_201_CREATED, response_model=SessionOut, responses=PROBLEMS
)
async def add_session(
    offer_id: uuid.UUID, body: SessionIn, request: Request, session: SessionDep, principal: Seller
) -> JSONResponse:
    """A dated session: at most 15 seats on a mandate training (R-OFR-4), inside an agrément (R-OF-1)."""
    row = await _owned_offer(session, offer_id, principal)

    async def compute() -> tuple[int, SessionOut]:
        with domain_refusals():
            ensure_editable(OfferStatus(row.status))
        agrements = await repository.agrements_of(session, row.siret)
        subcontractor = await _subcontractor(session, row.subcontractor_siret)
        dates = SessionDates(body.start_date, body.end_date)
        with domain_refusals():
            check_new_session(row.kind, dates, body.capacity, agrements, subcontractor).raise_if_any()
        session_id = uuid.uuid4()
        await repository.insert_session(
            session,
            {
                "id": session_id,
                "offer_id": offer_id,
                "offer_kind": row.kind,
                "start_date": body.start_date,
                "end_date": body.end_date,
                "capacity": body.capacity,
                "status": SessionStatus.OPEN,
            },
        )
        await repository.refresh_session_summary(session, offer_id)
        if row.status == OfferStatus.PUBLISHED:
            await emit(session, await _snapshot(session, offer_id))
        created = next(s for s in await repository.sessions_of(session, offer_id) if s.id == session_id)
        return status.HTTP_201_CREATED, _session_out(created)

    return await idempotent(session, request, principal, compute)


@router.post("/{offer_id}/publish", response_model=OfferOut, responses=PROBLEMS)
async def publish_offer(offer_id: uuid.UUID, session: SessionDep, principal: Seller) -> OfferOut:
    """A draft with at least one open session goes public; the agrément must cover every session (R-OF-1)."""
    row = await _owned_offer(session, offer_id, principal)
    open_sessions = [
        SessionDates(s.start_date, s.end_date)
        for s in await repository.sessions_of(session, offer_id)
        if s.status == SessionStatus.OPEN
    ]
    with domain_refusals():
        ensure_publishable(OfferStatus(row.status), len(open_sessions))
    agrements = await repository.agrements_of(session, row.siret)
    subcontractor = await _subcontractor(session, row.subcontractor_siret)
    with domain_refusals():
        check_coverage(row.kind, open_sessions, agrements, subcontractor).raise_if_any()
    await repository.update_offer(
        session, offer_id, {"status": OfferStatus.PUBLISHED, "published_at": datetime.now(UTC)}
    )
    await emit(session, await _snapshot(session, offer_id))
    return await offer_out(session, offer_id)


@router.post("/{offer_id}/withdraw", response_model=OfferOut, responses=PROBLEMS)
async def withdraw_offer(
    offer_id: uuid.UUID, session: SessionDep, principal: Seller, body: ReasonIn | None = None
) -> OfferOut:
    """Off the catalogue for good; no new dossier may be opened on it."""
    row = await _owned_offer(session, offer_id, principal)
    with domain_refusals():
        ensure_withdrawable(OfferStatus(row.status))
    now = datetime.now(UTC)
    await repository.update_offer(session, offer_id, {"status": OfferStatus.WITHDRAWN, "withdrawn_at": now})
    if row.status == OfferStatus.PUBLISHED:
        reason = body.reason if body else ""
        await emit(
            session, OfferWithdrawn(offer_id=offer_id, siret=row.siret, reason=reason, withdrawn_at=now)
        )
    return await offer_out(session, offer_id)


@router.post("/{offer_id}/sessions/{session_id}/cancel", response_model=SessionOut, responses=PROBLEMS)
async def cancel_session(
    offer_id: uuid.UUID,
    session_id: uuid.UUID,
    session: SessionDep,
    principal: Seller,
    body: ReasonIn | None = None,
) -> SessionOut:
    """The session will not take place; the dossier service cancels its dossiers on ``session_cancelled``."""
    row = await _owned_offer(session, offer_id, principal)
    target = next((s for s in await repository.sessions_of(session, offer_id) if s.id == session_id), None)
    if target is None:
        raise NotFound(f"no session {session_id} in offer {offer_id}")
    with domain_refusals():
        ensure_cancellable(OfferStatus(row.status), SessionStatus(target.status))
    await repository.set_session_status(session, session_id, SessionStatus.CANCELLED)
    await repository.refresh_session_summary(session, offer_id)
    if row.status == OfferStatus.PUBLISHED:
        reason = body.reason if body else ""
        await emit(
            session,
            SessionCancelled(offer_id=offer_id, siret=row.siret, session_id=session_id, reason=reason),
        )
    cancelled = next(s for s in await repository.sessions_of(session, offer_id) if s.id == session_id)
    return _session_out(cancelled)


async def stop_selling_uncovered_sessions(session: AsyncSession, siret: str, withdrawn: Agrement) -> None:
    """R-OF-1 once an agrément is withdrawn: the open mandate sessions no agrément covers any more are
    cancelled (``session_cancelled``), and an offer left without any open session is withdrawn."""
    agrements = await repository.agrements_of(session, siret)
    reason = f"agrément {withdrawn.reference} withdrawn from {withdrawn.withdrawn_on} (R-OF-1)"
    now = datetime.now(UTC)
    for offer in await repository.published_offers_of(session, siret):
        open_sessions = [
            ScheduledSession(s.id, s.start_date, s.end_date)
            for s in await repository.sessions_of(session, offer.id)
            if s.status == SessionStatus.OPEN
        ]
        lost = sessions_losing_agrement(offer.kind, open_sessions, agrements)
        for lost_session in lost:
            await repository.set_session_status(session, lost_session.id, SessionStatus.CANCELLED)
            await emit(
                session,
                SessionCancelled(offer_id=offer.id, siret=siret, session_id=lost_session.id, reason=reason),
            )
        if not lost:
            continue
        await repository.refresh_session_summary(session, offer.id)
        if len(lost) == len(open_sessions):
            await repository.update_offer(
                session, offer.id, {"status": OfferStatus.WITHDRAWN, "withdrawn_at": now}
            )
            await emit(
                session, OfferWithdrawn(offer_id=offer.id, siret=siret, reason=reason, withdrawn_at=now)
            )
