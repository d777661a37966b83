"""Bank details of organismes: proposed by the organisme or an agent, verified by another agent (R-PAY-3)."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from servicekit.rules import NotFound

from payout.domain.payees import BankDetails, BankDetailsStatus
from payout.use_cases.ports import BankDetailsStore


async def propose(
    repo: BankDetailsStore,
    *,
    siret: str,
    iban: str,
    bic: str,
    holder_name: str,
    entered_by: str,
    now: datetime,
) -> BankDetails:
    """R-PAY-3: new details wait for verification; a newer proposal replaces a pending one. The details in
    force (verified) stay in force until the new ones are verified."""
    details = BankDetails.propose(
        siret=siret, iban=iban, bic=bic, holder_name=holder_name, entered_by=entered_by, now=now
    )
    pending = await repo.in_status(siret, BankDetailsStatus.PENDING)
    if pending is not None:
        pending.supersede()
        await repo.save_status(pending)
    await repo.add(details)
    return details


async def decide(
    repo: BankDetailsStore, *, details_id: UUID, agent: str, verify: bool, now: datetime
) -> BankDetails:
    """R-PAY-3 four eyes: an agent other than the one who entered them verifies (or refuses) the details."""
    details = await repo.get(details_id, for_update=True)
    if details is None:
        raise NotFound(f"no bank details {details_id}")
    if not verify:
        details.refuse(by=agent, now=now)
        await repo.save_status(details)
        return details
    details.verify(by=agent, now=now)
    previous = await repo.in_status(details.siret, BankDetailsStatus.VERIFIED)
    if previous is not None:
        previous.supersede()
        await repo.save_status(previous)
    await repo.save_status(details)
    return details
