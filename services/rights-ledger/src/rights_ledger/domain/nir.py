"""The NIR, France's social security number: checked, then only ever kept as a keyed hash (R-REG-3)."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from datetime import date

from stdnum.exceptions import InvalidChecksum, ValidationError
from stdnum.fr import nir as stdnum_nir


class InvalidNir(ValueError):
    """R-REG-3: the NIR is malformed or its key does not match. The message never repeats the NIR."""


_SEX_DIGITS = frozenset("1278")


def validate_nir(raw: str) -> str:
    """R-REG-3: return the compact NIR or raise :class:`InvalidNir` with a reason.

    15 characters: sex (1/2, 7/8 provisional), year, month, département (2A/2B for Corsica), commune,
    order, and a key = 97 − (first 13 digits mod 97) where 2A counts as 19 and 2B as 18.
    """
    compact = stdnum_nir.compact(raw)
    if len(compact) != 15:
        raise InvalidNir(f"a NIR has 15 characters, got {len(compact)}")
    if compact[0] not in _SEX_DIGITS:
        raise InvalidNir("the first character of a NIR (sex) must be 1, 2, 7 or 8")
    try:
        return str(stdnum_nir.validate(compact))
    except InvalidChecksum:
        raise InvalidNir("the NIR key (last 2 digits) does not match the first 13 characters") from None
    except ValidationError:
        raise InvalidNir("the NIR is malformed (digits expected; 2A or 2B only for Corsica)") from None


def nir_key(first_13: str) -> str:
    """R-REG-3: the 2-digit key of the first 13 characters (``2061275111005`` → ``64``)."""
    return str(stdnum_nir.calc_check_digits(first_13))


def nir_hash(nir: str, key: bytes) -> str:
    """R-REG-3: the only form in which a NIR is stored or compared: HMAC-SHA256 under a secret key."""
    return hmac.new(key, validate_nir(nir).encode("ascii"), hashlib.sha256).hexdigest()


_SEX_OF_DIGIT = {"1": "M", "7": "M", "2": "F", "8": "F"}


def nir_disagreements(nir: str, *, birth_date: date, sexes: Iterable[str]) -> list[str]:
    """R-REG-3 / R-ACT-1: how a valid NIR disagrees with a verified identity; empty when it agrees.

    The sex digit (1 or 7 provisional: man; 2 or 8 provisional: woman) must agree with every known sex
    (``M``/``F``: the identity provider's gender, the registry's sex). The 2-digit year is the birth year's;
    the month is the birth month, except the codes the NIR uses for an unknown month (20–42, 50–99), which
    agree with any month. Never repeats the NIR.
    """
    compact = validate_nir(nir)
    found: list[str] = []
    nir_sex = _SEX_OF_DIGIT[compact[0]]
    if any(sex != nir_sex for sex in sexes):
        found.append("the NIR's sex digit does not agree with the identity's sex")
    if compact[1:3] != f"{birth_date.year % 100:02d}":
        found.append("the NIR's year of birth does not agree with the identity's birth date")
    month = int(compact[3:5]) if compact[3:5].isdigit() else -1
    unknown_month = 20 <= month <= 42 or month >= 50
    if not unknown_month and month != birth_date.month:
        found.append("the NIR's month of birth does not agree with the identity's birth date")
    return found
