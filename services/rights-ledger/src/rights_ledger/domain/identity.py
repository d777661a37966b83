"""Who a person is when the registry has no personal identifier (R-REG-2)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

_SEPARATORS = str.maketrans({"-": " ", "'": " ", "’": " ", "‐": " ", "‑": " ", "–": " ", ".": " ", ",": " "})


@lru_cache(maxsize=200_000)
def normalise_name(raw: str) -> str:
    """R-REG-2: case, accents, hyphens, apostrophes and runs of spaces do not distinguish two names.

    ``"  Jean-François  d'Aubigné"`` and ``"JEAN FRANCOIS D AUBIGNE"`` are the same name.
    """
    decomposed = unicodedata.normalize("NFKD", raw)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    stripped = stripped.replace("œ", "oe").replace("Œ", "OE").replace("æ", "ae").replace("Æ", "AE")
    return " ".join(stripped.translate(_SEPARATORS).upper().split())


@dataclass(frozen=True, slots=True)
class PersonKey:
    """R-REG-2: a person is (normalised family name, normalised given names, birth date)."""

    family_name: str
    given_names: str
    birth_date: date

    @classmethod
    def of(cls, family_name: str, given_names: str, birth_date: date) -> PersonKey:
        return cls(normalise_name(family_name), normalise_name(given_names), birth_date)
