"""What the dossier keeps of other contexts, from their events (R-DOS-2 decides on these read models).

Every effect is idempotent on its own (an upsert of the latest fact), on top of the inbox's deduplication.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from uuid import UUID

from dife_contracts.events import Mandate, OfferPublished, OfferSession

from dossier.domain.eligibility import MandatePeriod, OfferSnapshot, SessionSnapshot
from dossier.use_cases.ports import Repository


def periods(mandates: Sequence[Mandate]) -> list[MandatePeriod]:
    return [MandatePeriod(m.start_date, m.end_date) for m in mandates]


async def elu_registered(
    repo: Repository, elu_id: UUID, family_name: str, given_names: str, mandates: Sequence[Mandate]
) -> None:
    await repo.upsert_elu(elu_id, names=(family_name, given_names), mandates=periods(mandates))


async def mandates_changed(repo: Repository, elu_id: UUID, mandates: Sequence[Mandate]) -> None:
    await repo.upsert_elu(elu_id, mandates=periods(mandates))


async def account_activated(repo: Repository, elu_id: UUID) -> None:
    await repo.upsert_elu(elu_id, account_active=True)


async def pension_liquidated(repo: Repository, elu_id: UUID, liquidated_on: date) -> None:
    await repo.upsert_elu(elu_id, pension_liquidated_on=liquidated_on)


async def offer_published(repo: Repository, event: OfferPublished) -> None:
    """The élu pays the price with VAT (TTC): that is what the plan must cover."""
    offer = OfferSnapshot(
        offer_id=event.offer_id,
        siret=event.siret,
        kind=event.kind,
        title=event.title,
        theme_code=event.theme_code,
        hours=Decimal(event.hours),
        price_cents=event.price_ttc_cents,
        department=event.location.department if event.location else None,
    )
    await repo.upsert_offer(offer, event.published_at, [_session(event.offer_id, s) for s in event.sessions])


def _session(offer_id: UUID, session: OfferSession) -> SessionSnapshot:
    return SessionSnapshot(
        session_id=session.session_id,
        offer_id=offer_id,
        start=session.start_date,
        end=session.end_date,
        capacity=session.capacity,
    )
