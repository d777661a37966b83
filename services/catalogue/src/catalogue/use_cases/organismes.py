"""Training organisations and their agréments (R-OF-1): agents register and decide; the history stays."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime

from dife_contracts.events import OrganismeRegistered
from servicekit.rules import Conflict, NotFound

from catalogue.domain.listings import ThemeListing
from catalogue.domain.organismes import Agrement, Organisme, agrement_changed, is_accredited
from catalogue.use_cases.offers import stop_selling_uncovered_sessions
from catalogue.use_cases.ports import OffersAndOrganismes, Organismes, Outbox, Repertoire


@dataclass(frozen=True, slots=True)
class OrganismeRecord:
    """An organisme as shown: who it is, every agrément ever recorded, whether one is valid today."""

    organisme: Organisme
    agrements: list[Agrement]
    accredited_today: bool


async def themes(repo: Repertoire) -> list[ThemeListing]:
    """The répertoire of mandate-training themes (R-OFR-1)."""
    return await repo.themes()


async def organisme_record(repo: Organismes, siret: str, *, today: date) -> OrganismeRecord:
    organisme = await repo.organisme(siret)
    if organisme is None:
        raise NotFound(f"no organisme with SIRET {siret}")
    agrements = await repo.agrements_of(siret)
    return OrganismeRecord(organisme, agrements, is_accredited(agrements, today))


async def register_organisme(
    repo: Organismes, outbox: Outbox, organisme: Organisme, *, today: date
) -> OrganismeRecord:
    """A new OF, announced; a SIRET is registered once (the unique key decides, no check-then-insert)."""
    if not await repo.add_organisme(organisme):
        raise Conflict(f"an organisme with SIRET {organisme.siret} is already registered")
    await outbox.add(OrganismeRegistered(siret=organisme.siret, name=organisme.name, nda=organisme.nda))
    return await organisme_record(repo, organisme.siret, today=today)


async def grant_agrement(
    repo: Organismes,
    outbox: Outbox,
    siret: str,
    *,
    reference: str,
    decision_date: date,
    valid_from: date,
    valid_until: date,
) -> Agrement:
    """An agrément granted by the ministry, or renewed when the OF already had one (R-OF-1)."""
    if await repo.organisme(siret, lock=True) is None:
        raise NotFound(f"no organisme with SIRET {siret}")
    previous = await repo.agrements_of(siret)
    agrement = Agrement(uuid.uuid4(), reference, decision_date, valid_from, valid_until)
    if not await repo.add_agrement(siret, agrement):
        raise Conflict(f"agrément {reference} is already recorded for {siret}")
    await outbox.add(agrement_changed(siret, agrement, renewed=bool(previous)))
    return agrement


async def withdraw_agrement(
    repo: OffersAndOrganismes,
    outbox: Outbox,
    siret: str,
    agrement_id: uuid.UUID,
    *,
    on: date,
    reason: str,
    now: datetime,
) -> Agrement:
    """The withdrawal ends validity from its date (R-OF-1); what it no longer covers stops being sold."""
    agrement = await repo.agrement(siret, agrement_id)
    if agrement is None:
        raise NotFound(f"no agrément {agrement_id} for {siret}")
    withdrawn = agrement.withdraw(on, reason)
    await repo.record_withdrawal(withdrawn)
    await outbox.add(agrement_changed(siret, withdrawn, renewed=False))
    await stop_selling_uncovered_sessions(repo, outbox, siret, withdrawn, now=now)
    return withdrawn
