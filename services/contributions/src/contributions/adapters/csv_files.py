"""CSV files the service reads: a payroll tool's declaration export and an agents' list of collectivités.

Both are `;`- or `,`-separated (taken from the header line), UTF-8 (a BOM is fine; a file that is not UTF-8 is
read as latin-1, as older French exports are), with a header naming the columns in French or English. Every
bad line is reported with its line number in the file (the header is line 1) and the reason.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date

from servicekit.rules import RuleBroken

from contributions.domain.collectivites import Collectivite, CollectiviteType, normalise_siren
from contributions.domain.declarations import MAX_NAME_LENGTH, AllowanceLine, LineProblem

MAX_CENTS_DIGITS = 13
_CENTS = re.compile(r"\d{1,13}")
_MONTH = re.compile(r"(\d{4})-(\d{2})|(\d{2})/(\d{4})")
_DAY = re.compile(r"(\d{4})-(\d{2})-(\d{2})|(\d{2})/(\d{2})/(\d{4})")

DECLARATION_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "family_name": ("nom", "family_name"),
    "given_names": ("prenoms", "prénoms", "given_names"),
    "birth_date": ("date_naissance", "birth_date"),
    "elu_id": ("elu_id",),
    "month": ("mois", "month"),
    "gross_allowance_cents": ("indemnite_brute_cents", "indemnité_brute_cents", "gross_allowance_cents"),
}
DECLARATION_REQUIRED = ("month", "gross_allowance_cents")

COLLECTIVITE_COLUMNS: Mapping[str, tuple[str, ...]] = {
    "siren": ("siren",),
    "name": ("nom", "name"),
    "type": ("type",),
    "reference_annual_cents": ("cotisation_annuelle_cents", "reference_annual_cents"),
}
COLLECTIVITE_REQUIRED = ("siren", "name", "type")


def decode(content: bytes) -> str:
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError:
        return content.decode("latin-1")


def _rows(
    text: str, columns: Mapping[str, tuple[str, ...]], required: tuple[str, ...], rule: str
) -> Iterator[tuple[int, dict[str, str] | str]]:
    """(line number, {field: cell}) per data line, or (line number, reason) for a line that cannot be read."""
    first_line = text.split("\n", 1)[0]
    delimiter = ";" if first_line.count(";") >= first_line.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        header = [cell.strip().lower() for cell in next(reader)]
    except (StopIteration, csv.Error) as error:
        raise RuleBroken(rule, "the file is empty or its header cannot be read", field="header") from error
    positions: dict[str, int] = {}
    for name, aliases in columns.items():
        for alias in aliases:
            if alias in header:
                positions[name] = header.index(alias)
                break
    missing = [columns[name][0] for name in required if name not in positions]
    if missing:
        raise RuleBroken(
            rule,
            f"the header lacks the column(s) {', '.join(missing)}; expected "
            f"{delimiter.join(aliases[0] for aliases in columns.values())}",
            field="header",
        )
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            yield reader.line_num, f"unreadable CSV: {error}"
            continue
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            yield reader.line_num, f"{len(row)} cells where the header has {len(header)}"
            continue
        yield reader.line_num, {name: row[index].strip() for name, index in positions.items()}


def _day(text: str) -> date | None:
    found = _DAY.fullmatch(text)
    if not found:
        return None
    year, month, day = (
        found.group(1, 2, 3) if found.group(1) else (found.group(6), found.group(5), found.group(4))
    )
    try:
        return date(int(year), int(month), int(day))
    except ValueError:
        return None


def _month(text: str) -> date | None:
    found = _MONTH.fullmatch(text)
    if not found:
        return None
    year, month = found.group(1, 2) if found.group(1) else (found.group(4), found.group(3))
    try:
        return date(int(year), int(month), 1)
    except ValueError:
        return None


def _cents(text: str) -> int | None:
    return int(text) if _CENTS.fullmatch(text) else None


@dataclass(frozen=True, slots=True)
class ParsedDeclaration:
    lines: list[AllowanceLine]
    problems: list[LineProblem]


def _allowance_line(number: int, cells: dict[str, str]) -> AllowanceLine | list[str]:
    reasons = []
    if any("\x00" in cell for cell in cells.values()):
        return ["a cell holds a NUL character"]
    month = _month(cells["month"])
    if month is None:
        reasons.append(f"month {cells['month'][:20]!r} is not AAAA-MM or MM/AAAA")
    cents = _cents(cells["gross_allowance_cents"])
    if cents is None:
        reasons.append(
            f"gross allowance {cells['gross_allowance_cents'][:20]!r} is not a whole number of cents "
            f"(digits only, at most {MAX_CENTS_DIGITS})"
        )
    birth_date = None
    if cells.get("birth_date"):
        birth_date = _day(cells["birth_date"])
        if birth_date is None:
            reasons.append(f"birth date {cells['birth_date'][:20]!r} is not JJ/MM/AAAA or AAAA-MM-JJ")
    elu_id = None
    if cells.get("elu_id"):
        try:
            elu_id = uuid.UUID(cells["elu_id"])
        except ValueError:
            reasons.append(f"elu_id {cells['elu_id'][:40]!r} is not a UUID")
    family_name, given_names = cells.get("family_name") or None, cells.get("given_names") or None
    if len(family_name or "") > MAX_NAME_LENGTH or len(given_names or "") > MAX_NAME_LENGTH:
        reasons.append(f"names are at most {MAX_NAME_LENGTH} characters")
    if reasons or month is None or cents is None:
        return reasons
    return AllowanceLine(number, month, cents, family_name, given_names, birth_date, elu_id)


def parse_declaration_csv(content: bytes) -> ParsedDeclaration:
    """R-CON-2: the lines of a payroll export, one per élu and month, and every line that cannot be read."""
    lines: list[AllowanceLine] = []
    problems: list[LineProblem] = []
    rows = _rows(decode(content), DECLARATION_COLUMNS, DECLARATION_REQUIRED, "R-CON-2")
    for number, cells in rows:
        if isinstance(cells, str):
            problems.append(LineProblem(number, cells))
            continue
        parsed = _allowance_line(number, cells)
        if isinstance(parsed, AllowanceLine):
            lines.append(parsed)
        else:
            problems.extend(LineProblem(number, reason) for reason in parsed)
    return ParsedDeclaration(lines, problems)


@dataclass(frozen=True, slots=True)
class ParsedCollectivites:
    collectivites: list[Collectivite]
    problems: list[LineProblem]


def parse_collectivites_csv(content: bytes, registered_on: date) -> ParsedCollectivites:
    """A list of collectivités (`siren;nom;type;cotisation_annuelle_cents`): good rows load, bad rows are
    reported with their line number (R-CON-1: the type says whether the collectivité is subject)."""
    found: list[Collectivite] = []
    problems: list[LineProblem] = []
    rows = _rows(decode(content), COLLECTIVITE_COLUMNS, COLLECTIVITE_REQUIRED, "R-CON-1")
    for number, cells in rows:
        if isinstance(cells, str):
            problems.append(LineProblem(number, cells))
            continue
        reasons = []
        siren = normalise_siren(cells["siren"])
        if siren is None:
            reasons.append(f"SIREN {cells['siren'][:20]!r} is not valid (9 digits with a Luhn key)")
        try:
            kind = CollectiviteType(cells["type"].lower())
        except ValueError:
            kind = None
            reasons.append(
                f"type {cells['type'][:40]!r} is not one of {', '.join(t.value for t in CollectiviteType)}"
            )
        name = cells["name"]
        if not name or len(name) > MAX_NAME_LENGTH or "\x00" in name:
            reasons.append(f"the name is 1 to {MAX_NAME_LENGTH} characters")
        reference = None
        if cells.get("reference_annual_cents"):
            reference = _cents(cells["reference_annual_cents"])
            if reference is None:
                reasons.append("cotisation_annuelle_cents is not a whole number of cents")
        if reasons or siren is None or kind is None:
            problems.extend(LineProblem(number, reason) for reason in reasons)
            continue
        found.append(Collectivite(siren, name, kind, registered_on, reference))
    return ParsedCollectivites(found, problems)
