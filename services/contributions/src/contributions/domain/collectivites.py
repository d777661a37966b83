"""Collectivités and whether they owe the 1 % contribution (R-CON-1)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from servicekit.rules import RuleBroken
from stdnum.fr import siren as siren_number


class CollectiviteType(StrEnum):
    """Kinds of collectivités the fund knows; only some are subject to the contribution (R-CON-1)."""

    COMMUNE = "commune"
    EPCI_FISCALITE_PROPRE = "epci_fiscalite_propre"
    DEPARTEMENT = "departement"
    REGION = "region"
    GUYANE = "guyane"
    MARTINIQUE = "martinique"
    SYNDICAT = "syndicat"
    OTHER = "other"


SUBJECT_TYPES = frozenset(
    {
        CollectiviteType.COMMUNE,
        CollectiviteType.EPCI_FISCALITE_PROPRE,
        CollectiviteType.DEPARTEMENT,
        CollectiviteType.REGION,
        CollectiviteType.GUYANE,
        CollectiviteType.MARTINIQUE,
    }
)
"""R-CON-1: communes, EPCI à fiscalité propre, départements, régions, Guyane and Martinique pay the 1 %."""


def normalise_siren(value: str) -> str | None:
    """The 9-digit SIREN with a valid Luhn key (spaces and dots allowed in input), or None."""
    if not isinstance(value, str) or len(value) > 20:
        return None
    compact = siren_number.compact(value)
    return compact if siren_number.is_valid(compact) else None


@dataclass(frozen=True, slots=True)
class Collectivite:
    """A collectivité the fund knows; `reference_annual_cents` is the annual contribution known when it was
    registered, the basis of its first calendar (R-CON-3) until it has declared a whole year."""

    siren: str
    name: str
    type: CollectiviteType
    registered_on: date
    reference_annual_cents: int | None = None

    @property
    def is_subject(self) -> bool:
        """R-CON-1: only the listed kinds of collectivités owe the contribution."""
        return self.type in SUBJECT_TYPES

    def ensure_subject(self) -> None:
        """R-CON-1: a syndicat (or any other kind not listed) is recorded but declares nothing."""
        if not self.is_subject:
            raise RuleBroken(
                "R-CON-1",
                f"a collectivité of type {self.type.value} is not subject to the 1 % contribution "
                "(only communes, EPCI à fiscalité propre, départements, régions, Guyane and Martinique are): "
                "nothing to declare or pay",
                field="siren",
            )
