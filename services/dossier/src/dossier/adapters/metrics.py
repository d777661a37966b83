"""Prometheus metrics of the dossier service."""

from __future__ import annotations

from prometheus_client import Counter

LATE_DECLARATIONS = Counter(
    "dossier_late_declarations_total",
    "Entries and exits declared more than 3 working days after they happened (R-DOS-3)",
    ["kind"],
)
