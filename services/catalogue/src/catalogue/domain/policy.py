"""Regulatory figures of the catalogue, kept in one place (DOMAIN.md §2).

They come from arrêtés and change by arrêté: a new figure is a change here and nowhere else.
"""

from __future__ import annotations

from decimal import Decimal

MAX_PRICE_HT_CENTS_PER_HOUR = 8000
"""R-OFR-3: teaching cost at most 80 € HT per hour and per élu (arrêté of 16 February 2021)."""

MAX_MANDATE_SESSION_SEATS = 15
"""R-OFR-4: at most 15 participants per session of a mandate training."""

MAX_SUBCONTRACTING_SHARE_PERCENT = Decimal(45)
"""R-OFR-5: subcontracting at most 45 % of the teaching cost."""
