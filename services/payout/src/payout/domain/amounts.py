"""What the organisme is owed for a validated service, and by when (R-PAY-1, R-PAY-3)."""

from __future__ import annotations

from datetime import date, timedelta

from dife_contracts.money import percent_of
from servicekit.rules import RuleBroken

PAYMENT_DEADLINE_DAYS = 30
"""R-PAY-3: the organisme is paid within 30 calendar days after service done is validated."""


def amount_due(price_cents: int, realisation_percent: int) -> int:
    """R-PAY-1: price × taux de réalisation / 100, in integer cents, rounded half up once."""
    if price_cents < 0:
        raise RuleBroken("R-PAY-1", f"a price cannot be negative ({price_cents} cents)", field="price_cents")
    if not 0 <= realisation_percent <= 100:
        raise RuleBroken(
            "R-PAY-1",
            f"a taux de réalisation is 0 to 100 %, not {realisation_percent}",
            field="realisation_percent",
        )
    return percent_of(price_cents, realisation_percent)


def payment_deadline(validated_on: date) -> date:
    """R-PAY-3: the last calendar day on which the payment is on time (validation day + 30 days)."""
    return validated_on + timedelta(days=PAYMENT_DEADLINE_DAYS)


def is_overdue(deadline: date, today: date, *, settled: bool) -> bool:
    """R-PAY-3: a payment not settled by the end of its deadline day is overdue (the day itself is not)."""
    return not settled and today > deadline
