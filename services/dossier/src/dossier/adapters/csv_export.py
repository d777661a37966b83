"""CSV of the public list (R-PUB-1), with every cell neutralised against formula injection."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
"""A spreadsheet may run a cell starting with one of these as a formula (CSV/formula injection)."""


def neutralise(cell: str) -> str:
    """Prefix a leading apostrophe to a cell a spreadsheet would read as a formula (OWASP's advice)."""
    return "'" + cell if cell.startswith(FORMULA_TRIGGERS) else cell


def to_csv(header: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """RFC 4180 CSV (comma, CRLF, quotes where needed); None is an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise("" if value is None else str(value)) for value in row])
    return buffer.getvalue()
