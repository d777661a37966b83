"""What a crediting campaign and an expiry run decide before touching any account (R-ACC-1..4, R-END-1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from dife_contracts.enums import MandateFamily
from dife_contracts.events import RightsExpired
from servicekit.rules import RuleBroken

from rights_ledger.domain.parameters import (
    CAMPAIGN_FAMILY,
    CampaignFamily,
    CampaignRef,
    RightsParameters,
    campaign_date,
    parameters_at,
)

EXPIRY_REASON = "end of mandate: 6-month window over or pension liquidated (R-END-1)"


@dataclass(frozen=True, slots=True)
class CampaignPlan:
    """One year's campaign of one family: its date, the parameters in force then, whom it may credit."""

    campaign_id: UUID
    family: CampaignFamily
    year: int
    on: date
    rights: RightsParameters
    families: tuple[MandateFamily, ...]
    first_families: tuple[MandateFamily, ...]
    catch_up: bool
    reference: str

    @property
    def ref(self) -> CampaignRef:
        """The typed reference its credits carry."""
        return CampaignRef(self.year, self.family)


def ensure_campaign_due(family: CampaignFamily, year: int, today: date) -> date:
    """R-ACC-3: a campaign runs on or after its calendar date (Paris), never ahead; returns that date."""
    on = campaign_date(family, year)
    if today < on:
        raise RuleBroken(
            "R-ACC-3",
            f"the {family.value} campaign of {year} runs on {on.isoformat()} or later "
            f"(Paris), not on {today.isoformat()}",
            field="year",
        )
    return on


def ensure_expiry_not_ahead(as_of: date, today: date) -> None:
    """R-END-1: an expiry run looks at today or the past: a later ``as_of`` would expire rights of élus
    still inside their 6-month window."""
    if as_of > today:
        raise RuleBroken(
            "R-END-1", f"an expiry run is as of today ({today.isoformat()}) at the latest", field="as_of"
        )


def plan_campaign(campaign_id: UUID, family: CampaignFamily, year: int, today: date) -> CampaignPlan:
    """R-ACC-1..4: the campaign of ``family`` for ``year``, due on ``today``.

    ``catch_up``: the year's last campaign (``other``) also credits an élu with a running mandate not
    credited in March (R-ACC-4). Municipal mandates come first on a tie of start dates (R-ACC-3).
    """
    on = ensure_campaign_due(family, year, today)
    return CampaignPlan(
        campaign_id=campaign_id,
        family=family,
        year=year,
        on=on,
        rights=parameters_at(on),
        families=tuple(f for f, c in CAMPAIGN_FAMILY.items() if c is family),
        first_families=tuple(f for f, c in CAMPAIGN_FAMILY.items() if c is CampaignFamily.MUNICIPAL),
        catch_up=family is CampaignFamily.OTHER,
        reference=f"campaign {family.value} {year}",
    )


@dataclass(frozen=True, slots=True)
class CampaignTotals:
    """What a campaign credited: élus credited (> 0), credits the cap reduced, cents in all."""

    credited: int
    capped: int
    total_cents: int


@dataclass(frozen=True, slots=True)
class Expired:
    """One account whose available balance an expiry run took."""

    elu_id: UUID
    amount_cents: int


def expiry_reference(as_of: date) -> str:
    return f"expiry run {as_of.isoformat()}"


def rights_expired(expired: Expired, as_of: date) -> RightsExpired:
    """R-END-1: the event of one expiry."""
    return RightsExpired(
        elu_id=expired.elu_id, amount_cents=expired.amount_cents, expired_on=as_of, reason=EXPIRY_REASON
    )


def next_campaign_year(family: CampaignFamily, today: date) -> int:
    """R-ACC-3: the year of the family's next campaign strictly after ``today`` (today's, if any, is already
    scheduled or is run by hand)."""
    year = today.year
    while campaign_date(family, year) <= today:
        year += 1
    return year
