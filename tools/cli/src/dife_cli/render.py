"""How answers are shown: scalars as a two-column table, lists of objects as tables, cents as euros."""

from __future__ import annotations

import csv
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

PIPED_WIDTH = 200
"""Tables written to a file or a pipe are not cut to 80 columns."""
out = Console(soft_wrap=True, width=None if sys.stdout.isatty() else PIPED_WIDTH)
"""Results (stdout), so `dife … > file` keeps only them."""
err = Console(stderr=True, soft_wrap=True)
"""Progress bars, notes and errors (stderr)."""


def euros(cents: int) -> str:
    """`123456` → `1 234.56 €` (money is integer cents everywhere)."""
    sign = "-" if cents < 0 else ""
    units, rest = divmod(abs(cents), 100)
    return f"{sign}{units:,}.{rest:02d} €".replace(",", " ")


def cell(key: str, value: Any) -> str:
    if value is None:
        return "—"
    if key.endswith("_cents") and isinstance(value, int) and not isinstance(value, bool):
        return euros(value)
    if isinstance(value, list) and all(not isinstance(item, dict | list) for item in value):
        return ", ".join(str(item) for item in value)
    return str(value)


def flatten(data: dict[str, Any], prefix: str = "") -> tuple[dict[str, Any], dict[str, list[Any]]]:
    """Scalars (nested objects as `a.b` keys) apart from lists of objects, which deserve their own table."""
    scalars: dict[str, Any] = {}
    tables: dict[str, list[Any]] = {}
    for key, value in data.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            inner_scalars, inner_tables = flatten(value, prefix=f"{name}.")
            scalars.update(inner_scalars)
            tables.update(inner_tables)
        elif isinstance(value, list) and any(isinstance(item, dict) for item in value):
            tables[name] = value
        else:
            scalars[name] = value
    return scalars, tables


def show(data: Any, title: str | None = None) -> None:
    """Print any JSON answer readably."""
    if isinstance(data, list):
        show_rows(data, title=title)
        return
    if not isinstance(data, dict):
        out.print(data)
        return
    scalars, tables = flatten(data)
    if scalars:
        table = Table(title=title, show_header=False, title_justify="left")
        table.add_column("field", style="bold", overflow="fold")
        table.add_column("value", overflow="fold")
        for key, value in scalars.items():
            table.add_row(key, cell(key, value))
        out.print(table)
    for name, rows in tables.items():
        show_rows(rows, title=name)


def show_rows(rows: list[Any], title: str | None = None) -> None:
    if not rows:
        out.print(f"{title or 'items'}: none")
        return
    columns: list[str] = []
    for row in rows:
        for key in row if isinstance(row, dict) else ["value"]:
            if key not in columns:
                columns.append(key)
    table = Table(title=f"{title} ({len(rows)})" if title else None, title_justify="left")
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        values = row if isinstance(row, dict) else {"value": row}
        table.add_row(*(cell(column, values.get(column)) for column in columns))
    out.print(table)


def write_csv(path: Path, rows: list[dict[str, Any]], columns: list[str]) -> None:
    """A CSV of report rows; text that a spreadsheet would run as a formula is neutralised (`'=…`)."""
    with path.open("w", encoding="utf-8", newline="") as file:
        writer = csv.writer(file)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([_neutral(row.get(column)) for column in columns])


def _neutral(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value
