"""Money is integer euro cents, everywhere (DESIGN.md: never floats).

Field names end in `_cents`. Arithmetic stays in integers: a float never touches an amount, so a sum of lines
is exactly the total and rounding happens once, where a rule says so.
"""

from typing import Annotated

from pydantic import Field, Strict

Cents = Annotated[int, Strict(), Field(ge=0)]
"""A non-negative amount in euro cents. Strict: a JSON float or a numeric string is refused, not coerced."""

PositiveCents = Annotated[int, Strict(), Field(gt=0)]
"""An amount in euro cents that must be more than zero, such as a line of a funding plan."""

SignedCents = Annotated[int, Strict()]
"""An amount in euro cents that may be negative: only for corrections (e.g. an agent's account adjustment)."""

CENTS_PER_EURO = 100


def euros(n: int) -> int:
    """Whole euros to cents: `euros(400) == 40_000`. Only integers: a float amount is a bug."""
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"euros() takes a whole number of euros, got {n!r}")
    return n * CENTS_PER_EURO


def percent_of(cents: int, percent: int) -> int:
    """`percent` % of `cents`, rounded half up to the cent, in integer arithmetic.

    Used for R-PAY-1 (price × taux de réalisation) and R-CON-2 (1 % of each allowance line). Half up means
    half away from zero, so a negative amount mirrors a positive one.
    """
    for value in (cents, percent):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"percent_of() takes integers, got {value!r}")
    if percent < 0:
        raise ValueError(f"percent must not be negative, got {percent}")
    magnitude = (abs(cents) * percent * 2 + 100) // 200
    return magnitude if cents >= 0 else -magnitude
