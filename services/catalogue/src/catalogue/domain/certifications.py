"""R-OFR-2: what makes a reinsertion training eligible to the CPF.

A certification registered at France compétences (``RNCP`` + number in the national register,
``RS`` + number in the specific register), a VAE, a skills assessment (bilan de compétences)
or a driving licence category.
"""

from __future__ import annotations

import re

_RNCP = re.compile(r"^RNCP\d{3,6}$")
_RS = re.compile(r"^RS\d{3,6}$")

VAE = "VAE"
BILAN_DE_COMPETENCES = "BILAN-COMPETENCES"
DRIVING_LICENCE_CATEGORIES = frozenset(
    {"AM", "A1", "A2", "A", "B", "BE", "B96", "C1", "C1E", "C", "CE", "D1", "D1E", "D", "DE"}
)


def is_cpf_eligible(code: str) -> bool:
    """True for RNCP…, RS…, VAE, BILAN-COMPETENCES or PERMIS-<category>: CPF-eligible actions."""
    if _RNCP.match(code) or _RS.match(code) or code in (VAE, BILAN_DE_COMPETENCES):
        return True
    prefix, _, category = code.partition("-")
    return prefix == "PERMIS" and category in DRIVING_LICENCE_CATEGORIES
