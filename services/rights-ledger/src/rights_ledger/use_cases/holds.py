"""Holds requested by funding and captured by payout: each exactly once in effect (R-FUN-1, R-FUN-5, R-PAY-2,
R-END-1). The account row is locked first, then the hold, in every path, so no two paths deadlock."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

import structlog
from dife_contracts.enums import HoldRejectionReason
from dife_contracts.events import (
    DifeCaptureRequested,
    DifeHoldRequested,
    DifeReleaseRequested,
    HoldCaptured,
    HoldPlaced,
    HoldRejected,
    HoldReleased,
)
from servicekit.consumer import PermanentEventError
from servicekit.outbox import enqueue
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from rights_ledger.adapters.accounts import AccountRepository
from rights_ledger.adapters.tables import holds
from rights_ledger.domain.ledger import Hold, InsufficientRights, LedgerError
from rights_ledger.domain.mandates import hold_rejection
from rights_ledger.use_cases import SOURCE

log = structlog.get_logger(__name__)


async def place_hold(session: AsyncSession, event: DifeHoldRequested) -> None:
    """R-FUN-1 / R-END-1: reserve the DIFE line of a plan, or say why not (``hold_rejected``)."""
    repo = AccountRepository(session)
    now = datetime.now(UTC)
    account = await repo.lock(event.elu_id)

    async def reject(reason: HoldRejectionReason, detail: str, available: int) -> None:
        await enqueue(
            session,
            HoldRejected(
                elu_id=event.elu_id,
                dossier_id=event.dossier_id,
                requested_cents=event.amount_cents,
                available_cents=max(available, 0),
                reason=reason,
                detail=detail,
            ),
            source=SOURCE,
        )

    if account is None:
        await reject(HoldRejectionReason.ACCOUNT_INACTIVE, "no DIFE account for this élu (R-ACT-1)", 0)
        return
    existing = await repo.pending_hold_of_dossier(event.dossier_id)
    if existing is not None:
        if existing.hold.elu_id != event.elu_id:
            raise PermanentEventError("the dossier already holds rights of another élu")
        log.info("hold already pending for the dossier; answering again", hold_id=str(existing.hold.hold_id))
        await enqueue(
            session,
            HoldPlaced(
                elu_id=event.elu_id,
                hold_id=existing.hold.hold_id,
                dossier_id=event.dossier_id,
                amount_cents=existing.hold.amount_cents,
                available_after_cents=account.available_cents,
            ),
            source=SOURCE,
        )
        return
    rejection = hold_rejection(
        purpose=event.purpose,
        training_start=event.training_start,
        training_end=event.training_end,
        mandates=await repo.mandates_of(event.elu_id),
        pension_liquidated_on=await repo.pension_of(event.elu_id),
        account_status=account.status,
    )
    if rejection is not None:
        details = {
            HoldRejectionReason.ACCOUNT_INACTIVE: "the account is not active (R-ACT-1)",
            HoldRejectionReason.NOT_ELIGIBLE: f"a {event.purpose} training on these dates is not eligible "
            "(R-END-1, R-DOS-2)",
        }
        await reject(rejection, details.get(rejection, str(rejection)), account.available_cents)
        return
    hold = Hold(uuid4(), event.elu_id, event.amount_cents, str(event.dossier_id))
    try:
        account.place_hold(hold, now)
    except InsufficientRights as error:
        await reject(
            HoldRejectionReason.INSUFFICIENT_RIGHTS, f"{error.detail} ({error.rule})", account.available_cents
        )
        return
    except LedgerError as error:
        await reject(
            HoldRejectionReason.NOT_ELIGIBLE, f"{error.detail} ({error.rule})", account.available_cents
        )
        return
    await repo.insert_hold(
        hold,
        dossier_id=event.dossier_id,
        purpose=event.purpose.value,
        training_start=event.training_start,
        training_end=event.training_end,
    )
    await repo.save(account)
    await enqueue(
        session,
        HoldPlaced(
            elu_id=event.elu_id,
            hold_id=hold.hold_id,
            dossier_id=event.dossier_id,
            amount_cents=hold.amount_cents,
            available_after_cents=account.available_cents,
        ),
        source=SOURCE,
    )


async def _already_resolved(
    session: AsyncSession, event: DifeReleaseRequested | DifeCaptureRequested
) -> bool:
    found = await session.scalar(
        select(holds.c.hold_id)
        .where(holds.c.dossier_id == event.dossier_id, holds.c.status != "pending")
        .limit(1)
    )
    return found is not None


async def release_hold(session: AsyncSession, event: DifeReleaseRequested) -> None:
    """R-DOS-5 / R-FUN-5: give a dossier's pending hold back whole; nothing pending → nothing to do."""
    repo = AccountRepository(session)
    account = await repo.lock(event.elu_id)
    found = await repo.pending_hold_of_dossier(event.dossier_id)
    if account is None or found is None:
        log.info("no pending hold to release", dossier_id=str(event.dossier_id))
        return
    if found.hold.elu_id != event.elu_id:
        raise PermanentEventError("release requested for a hold of another élu")
    now = datetime.now(UTC)
    account.release(found.hold, now)
    await repo.save(account)
    await repo.resolve_hold(found.hold, released_cents=found.hold.amount_cents, at=now)
    await enqueue(
        session,
        HoldReleased(
            elu_id=event.elu_id,
            hold_id=found.hold.hold_id,
            dossier_id=event.dossier_id,
            released_cents=found.hold.amount_cents,
            reason=event.reason,
        ),
        source=SOURCE,
    )


async def capture_hold(session: AsyncSession, event: DifeCaptureRequested) -> None:
    """R-PAY-2: spend ``amount_cents`` of the dossier's hold and release the rest, in one resolution."""
    repo = AccountRepository(session)
    account = await repo.lock(event.elu_id)
    found = await repo.pending_hold_of_dossier(event.dossier_id)
    if account is None or found is None:
        if event.amount_cents == 0 or await _already_resolved(session, event):
            log.info("no pending hold to capture", dossier_id=str(event.dossier_id))
            return
        raise PermanentEventError("capture requested for a dossier without a hold (R-FUN-5)")
    if found.hold.elu_id != event.elu_id:
        raise PermanentEventError("capture requested for a hold of another élu")
    if event.amount_cents > found.hold.amount_cents:
        raise PermanentEventError(
            f"capture of {event.amount_cents} cents exceeds the hold of {found.hold.amount_cents} (R-PAY-2)"
        )
    now = datetime.now(UTC)
    account.capture(found.hold, event.amount_cents, now)
    released = found.hold.amount_cents - event.amount_cents
    await repo.save(account)
    await repo.resolve_hold(found.hold, released_cents=released, at=now)
    await enqueue(
        session,
        HoldCaptured(
            elu_id=event.elu_id,
            hold_id=found.hold.hold_id,
            dossier_id=event.dossier_id,
            captured_cents=event.amount_cents,
            released_cents=released,
        ),
        source=SOURCE,
    )
