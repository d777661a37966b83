"""Constrained value types shared by several payloads.

Identifiers of persons and aggregates are UUIDs; only organisations keep their public registry numbers.
Decimals travel as JSON strings so that no reader turns them into binary floats.
"""

from decimal import Decimal
from typing import Annotated

from pydantic import Field, StringConstraints, WithJsonSchema

Siret = Annotated[str, StringConstraints(pattern=r"^\d{14}$")]
"""An establishment's SIRET (14 digits): how an organisme de formation is known."""

Siren = Annotated[str, StringConstraints(pattern=r"^\d{9}$")]
"""A legal entity's SIREN (9 digits): how a collectivité is known."""

Nda = Annotated[str, StringConstraints(pattern=r"^\d{11}$")]
"""Numéro de déclaration d'activité of a training organisation (11 digits)."""

CommuneCode = Annotated[str, StringConstraints(pattern=r"^(\d{5}|2[AB]\d{3})$")]
"""INSEE code of a commune, padded to 5 characters (Corsica: 2A/2B)."""

DepartmentCode = Annotated[str, StringConstraints(pattern=r"^(\d{2}|2[AB]|97\d)$")]
"""INSEE code of a département: `75`, `2A`, `971`."""

PostalCode = Annotated[str, StringConstraints(pattern=r"^\d{5}$")]

RealisationPercent = Annotated[int, Field(ge=0, le=100)]
"""Taux de réalisation: hours attended ÷ hours planned × 100, an integer percent (R-DOS-3)."""

Rating = Annotated[int, Field(ge=1, le=5)]
"""An élu's evaluation of a training, 1 to 5 (R-DOS-6)."""

RatingAverage = Annotated[
    Decimal,
    Field(ge=1, le=5, max_digits=3, decimal_places=2),
    WithJsonSchema({"type": "string", "pattern": r"^[1-5](\.\d{1,2})?$"}),
]
"""Average of ratings, 1.00 to 5.00, exact to the hundredth."""

Hours = Annotated[
    Decimal,
    Field(gt=0, max_digits=6, decimal_places=2),
    WithJsonSchema({"type": "string", "pattern": r"^\d{1,4}(\.\d{1,2})?$"}),
]
"""A training's planned duration in hours, exact to the hundredth (7.5 h is common)."""

BasisPoints = Annotated[int, Field(ge=0, le=10_000)]
"""A rate in hundredths of a percent: 20 % VAT is 2000."""

Period = Annotated[str, StringConstraints(pattern=r"^\d{4}(-(0[1-9]|1[0-2])|-Q[1-4])?$")]
"""A contribution period: `2026-03` (monthly), `2026-Q1` (quarterly) or `2026` (yearly) (R-CON-3)."""
