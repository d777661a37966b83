"""Holds requested by funding and captured by payout: each exactly once in effect (R-FUN-1, R-FUN-5, R-PAY-2,
R-END-1). Load (the account row is locked first, then the hold, in every path, so no two paths deadlock),
decide (the account records its movements and the event it answers), save."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import uuid4

import structlog
from dife_contracts.events import DifeCaptureRequested, DifeHoldRequested, DifeReleaseRequested
from servicekit.clock import Clock
from servicekit.rules import Conflict, RuleBroken

from rights_ledger.domain.ledger import hold_rejected_without_account
from rights_ledger.use_cases.ports import Accounts, Outbox

log = structlog.get_logger(__name__)


async def place_hold(accounts: Accounts, outbox: Outbox, clock: Clock, request: DifeHoldRequested) -> None:
    """R-FUN-1 / R-END-1: reserve the DIFE line of a plan, or say why not (``hold_rejected``)."""
    await place_holds(accounts, outbox, clock, [request])


async def place_holds(
    accounts: Accounts, outbox: Outbox, clock: Clock, requests: Sequence[DifeHoldRequested]
) -> None:
    """R-FUN-1 / R-END-1 / R-FUN-5 for a run of requests, in their order: each is decided as if alone, on
    the account as the earlier ones left it (a second request of a dossier gets the hold the first placed).
    The run is read in one go and saved in one go."""
    desk = await accounts.lock_for_holds(
        [request.elu_id for request in requests], [request.dossier_id for request in requests]
    )
    at = clock.now()
    for request in requests:
        account = desk.accounts.get(request.elu_id)
        if account is None:
            await outbox.add(hold_rejected_without_account(request))
            continue
        existing = desk.pending_by_dossier.get(request.dossier_id)
        if existing is not None:
            if existing.elu_id != request.elu_id:
                raise Conflict("the dossier already holds rights of another élu", rule_id="R-FUN-5")
            log.info("hold already pending for the dossier; answering again", hold_id=str(existing.hold_id))
            account.answer_again(existing)
            continue
        placed = account.answer_hold_request(
            request,
            hold_id=uuid4(),
            mandates=desk.mandates.get(request.elu_id, []),
            pension_liquidated_on=desk.pensions.get(request.elu_id),
            at=at,
        )
        if placed is not None:
            desk.pending_by_dossier[request.dossier_id] = placed
    await accounts.save_all(list(desk.accounts.values()))


async def release_hold(accounts: Accounts, clock: Clock, request: DifeReleaseRequested) -> None:
    """R-DOS-5 / R-FUN-5: give a dossier's pending hold back whole; nothing pending → nothing to do."""
    account = await accounts.lock(request.elu_id)
    hold = await accounts.pending_hold_of_dossier(request.dossier_id)
    if account is None or hold is None:
        log.info("no pending hold to release", dossier_id=str(request.dossier_id))
        return
    account.release_requested(hold, request, clock.now())
    await accounts.save(account)


async def capture_hold(accounts: Accounts, clock: Clock, request: DifeCaptureRequested) -> None:
    """R-PAY-2: spend ``amount_cents`` of the dossier's hold and release the rest, in one resolution."""
    account = await accounts.lock(request.elu_id)
    hold = await accounts.pending_hold_of_dossier(request.dossier_id)
    if account is None or hold is None:
        if request.amount_cents == 0 or await accounts.dossier_hold_resolved(request.dossier_id):
            log.info("no pending hold to capture", dossier_id=str(request.dossier_id))
            return
        raise RuleBroken("R-FUN-5", "capture requested for a dossier without a hold")
    account.capture_requested(hold, request, clock.now())
    await accounts.save(account)
