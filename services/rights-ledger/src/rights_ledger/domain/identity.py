"""Who a person is when the registry has no personal identifier (R-REG-2)."""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from servicekit.rules import Checks

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


NAME_MAX_LENGTH = 200
"""The longest name activation and search accept; the import rejects longer ones (R-REG-2)."""

_GENDER_CLAIMS = {"male": "M", "female": "F"}


@dataclass(frozen=True, slots=True)
class VerifiedIdentity:
    """R-ACT-1: who the identity provider says the caller is (FranceConnect claims), never what they typed."""

    family_name: str
    given_names: str
    birth_date: date
    sex: str | None

    @property
    def person(self) -> PersonKey:
        return PersonKey.of(self.family_name, self.given_names, self.birth_date)

    def persons(self) -> list[PersonKey]:
        """R-REG-2 / R-ACT-1: the registry keys this identity may be filed under: all its given names (as
        FranceConnect gives them), then the first one alone (the RNE's "Prénom de l'élu" is the usual one)."""
        full = self.person
        first = full.given_names.split(" ", 1)[0]
        return (
            [full]
            if first == full.given_names
            else [full, PersonKey(full.family_name, first, self.birth_date)]
        )


def _name_claim(claims: Mapping[str, object], name: str, checks: Checks) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value.strip() or "\x00" in value or len(value) > NAME_MAX_LENGTH:
        checks.fail("R-ACT-1", f"the verified token has no usable {name!r} claim", field=f"token.{name}")
        return ""
    return value.strip()


def identity_from_claims(claims: Mapping[str, object]) -> VerifiedIdentity:
    """R-ACT-1: the identity of the OpenID Connect claims ``family_name``, ``given_name``, ``birthdate``
    (``YYYY-MM-DD``) and ``gender`` (``male``/``female``; other values or none: the sex is not known)."""
    checks = Checks()
    family_name = _name_claim(claims, "family_name", checks)
    given_names = _name_claim(claims, "given_name", checks)
    raw_birth = claims.get("birthdate")
    birth_date = date.min
    try:
        if not isinstance(raw_birth, str) or len(raw_birth) != 10:
            raise ValueError
        birth_date = date.fromisoformat(raw_birth)
    except ValueError:
        checks.fail(
            "R-ACT-1", "the verified token has no 'birthdate' claim as YYYY-MM-DD", field="token.birthdate"
        )
    checks.raise_if_any()
    gender = claims.get("gender")
    return VerifiedIdentity(family_name, given_names, birth_date, _GENDER_CLAIMS.get(str(gender).lower()))
