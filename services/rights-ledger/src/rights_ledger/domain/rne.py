"""Reading the Répertoire national des élus (R-REG-1, R-REG-2): one CSV per mandate type.

Columns are found by header name, not position: the files swap their leading place columns per type and have
changed over the years; the tail from ``Nom de l'élu`` on is shared. One row per function. A bad row is
reported with its line number and reason; the good rows still load.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from dife_contracts.enums import MandateFamily, RneFileType

from rights_ledger.domain.identity import NAME_MAX_LENGTH, normalise_name


@dataclass(frozen=True, slots=True)
class ColumnLayout:
    """Candidate header names (normalised) of the collectivité code and name for one file type."""

    code: tuple[str, ...]
    name: tuple[str, ...]
    pad_commune: bool


_LAYOUTS: dict[RneFileType, ColumnLayout] = {
    RneFileType.CM: ColumnLayout(("CODE DE LA COMMUNE",), ("LIBELLE DE LA COMMUNE",), True),
    RneFileType.EPCI: ColumnLayout(
        ("N SIREN", "NO SIREN", "N° SIREN", "SIREN"), ("LIBELLE DE L EPCI",), False
    ),
    RneFileType.CD: ColumnLayout(("CODE DU DEPARTEMENT",), ("LIBELLE DU DEPARTEMENT",), False),
    RneFileType.CR: ColumnLayout(("CODE DE LA REGION",), ("LIBELLE DE LA REGION",), False),
    RneFileType.CSP: ColumnLayout(
        ("CODE DE LA COLLECTIVITE A STATUT PARTICULIER",),
        ("LIBELLE DE LA COLLECTIVITE A STATUT PARTICULIER",),
        False,
    ),
    RneFileType.CA: ColumnLayout(("CODE DE LA COMMUNE",), ("LIBELLE DE LA COMMUNE",), True),
}

_FAMILY = "NOM DE L ELU"
_GIVEN = "PRENOM DE L ELU"
_SEX = "CODE SEXE"
_BIRTH = "DATE DE NAISSANCE"
_MANDATE_START = "DATE DE DEBUT DU MANDAT"
_FUNCTION = "LIBELLE DE LA FONCTION"
_FUNCTION_START = "DATE DE DEBUT DE LA FONCTION"
_DEPARTMENT = "CODE DU DEPARTEMENT"
_REQUIRED_TAIL = (_FAMILY, _GIVEN, _BIRTH, _MANDATE_START)


class RneFormatError(ValueError):
    """R-REG-1: the file as a whole cannot be read (no header, unknown layout)."""


class RneRecord(NamedTuple):
    """One good row: a person (R-REG-2 key) holding one function of a mandate in a collectivité.

    A tuple, in the column order of the import's staging table, so half a million of them load by COPY as is.
    """

    line: int
    family_name: str
    given_names: str
    family_key: str
    given_key: str
    birth_date: date
    sex: str
    collectivite_code: str
    collectivite_name: str
    department_code: str
    mandate_start: date
    function: str
    function_start: date | None


@dataclass(frozen=True, slots=True)
class RejectedRow:
    line: int
    reason: str


@dataclass(slots=True)
class ParsedRne:
    """What reading a file found; ``loaded`` and ``rejected`` grow as a streamed file's records are consumed
    (``records`` holds them only when the whole file was parsed at once, `parse_rne`)."""

    records: list[RneRecord] = field(default_factory=list)
    rejected: list[RejectedRow] = field(default_factory=list)
    mandate_family: MandateFamily = MandateFamily.MUNICIPAL
    encoding: str = "utf-8"
    delimiter: str = ";"
    loaded: int = 0

    @property
    def rows_read(self) -> int:
        return self.loaded + len(self.rejected)


_CHUNK_BYTES = 1 << 20

Chunks = Callable[[], Iterable[bytes | memoryview]]
"""A file as pieces of bytes that can be read again from the start (once to detect the encoding, once to
parse): an upload stored in chunks is never held whole in memory."""


def as_chunks(data: bytes | Chunks) -> Chunks:
    """The pieces of a file given whole (views of ``_CHUNK_BYTES``, no copy), or the pieces as given."""
    if not isinstance(data, bytes):
        return data
    view = memoryview(data)
    return lambda: (view[start : start + _CHUNK_BYTES] for start in range(0, len(view), _CHUNK_BYTES))


def detect_encoding(data: bytes | Chunks) -> str:
    """R-REG-1: UTF-8 (with or without BOM), else the latin-1 family of older exports (cp1252, latin-1).
    Decoded piece by piece and thrown away: the file is never held in memory as text."""
    chunks = as_chunks(data)
    for encoding in ("utf-8-sig", "cp1252"):
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            for chunk in chunks():
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return encoding
        except UnicodeDecodeError:
            continue
    return "latin-1"  # decodes every byte


class _ChunkStream(io.RawIOBase):
    """A readable binary stream over pieces of bytes (what ``io.TextIOWrapper`` decodes line by line)."""

    def __init__(self, chunks: Iterable[bytes | memoryview]) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            following = next(self._chunks, None)
            if following is None:
                return 0
            self._pending = memoryview(following)
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


@lru_cache(maxsize=100_000)
def parse_date(raw: str) -> date:
    """R-REG-1: ``JJ/MM/AAAA`` (historical exports) or ``AAAA-MM-JJ`` (2026 exports)."""
    text = raw.strip()
    if len(text) == 10 and text[2] == "/" and text[5] == "/":
        return date(int(text[6:10]), int(text[3:5]), int(text[0:2]))
    if len(text) == 10 and text[4] == "-" and text[7] == "-":
        return date(int(text[0:4]), int(text[5:7]), int(text[8:10]))
    raise ValueError(f"date {text!r} is neither JJ/MM/AAAA nor AAAA-MM-JJ")


MIN_BIRTH_YEAR = 1900
MIN_AGE_AT_MANDATE = 18


def age_on(birth_date: date, day: date) -> int:
    """Whole years of age on ``day`` (a birthday counts on the day itself)."""
    before_birthday = (day.month, day.day) < (birth_date.month, birth_date.day)
    return day.year - birth_date.year - before_birthday


def _implausible(birth_date: date, mandate_start: date, snapshot_date: date | None) -> str | None:
    """R-REG-1: dates no élu can have: born before 1900, under 18 at the mandate's start (eligibility age),
    a mandate starting after the snapshot that lists it."""
    if birth_date.year < MIN_BIRTH_YEAR:
        return f"birth date: before {MIN_BIRTH_YEAR}"
    if mandate_start < birth_date:
        return "the mandate starts before the birth date"
    if age_on(birth_date, mandate_start) < MIN_AGE_AT_MANDATE:
        return f"mandate start date: the élu was under {MIN_AGE_AT_MANDATE} then"
    if snapshot_date is not None and mandate_start > snapshot_date:
        return "mandate start date: after the snapshot date"
    return None


def pad_commune_code(code: str) -> str:
    """R-REG-1: commune codes are 5 characters (``1001`` → ``01001``; Corsica ``2A004`` unchanged)."""
    code = code.strip()
    return code.zfill(5) if code else code


def _header_key(name: str) -> str:
    return normalise_name(name.replace("°", " ").replace("º", " "))


def _find(index: dict[str, int], candidates: tuple[str, ...]) -> int | None:
    for candidate in candidates:
        found = index.get(_header_key(candidate))
        if found is not None:
            return found
    return None


class BadLine(ValueError):
    """One physical line that cannot be split into fields (a stray quote, a NUL byte)."""


def physical_lines(data: bytes | Chunks, encoding: str) -> Iterator[tuple[int, str]]:
    """R-REG-1: every physical line with its number (the header is line 1), decoded as it is read; a final
    newline ends the last line and makes no line of its own. A field never spans two lines in the RNE: a
    line is a row. A line may span two pieces of the file, a character too."""
    raw = io.BufferedReader(_ChunkStream(as_chunks(data)()))
    stream = io.TextIOWrapper(raw, encoding=encoding, newline="\n")
    for number, line in enumerate(stream, start=1):
        yield number, line.removesuffix("\n").removesuffix("\r")


def split_line(line: str, delimiter: str) -> list[str]:
    """The fields of one line; quotes only where the line has some (the RNE files have none)."""
    if "\x00" in line:
        raise BadLine("the line holds a NUL byte")
    if '"' not in line:
        return line.split(delimiter)
    try:
        return next(csv.reader((line,), delimiter=delimiter, strict=True))
    except csv.Error:
        raise BadLine('unbalanced or stray quote (") in the line') from None


def parse_rne(data: bytes, file_type: RneFileType, snapshot_date: date | None = None) -> ParsedRne:
    """R-REG-1/R-REG-2: the records of one RNE file, all at once, and its rejected lines (`read_rne`)."""
    parsed, records = read_rne(data, file_type, snapshot_date)
    parsed.records = list(records)
    return parsed


def read_rne(
    data: bytes | Chunks, file_type: RneFileType, snapshot_date: date | None = None
) -> tuple[ParsedRne, Iterator[RneRecord]]:
    """R-REG-1/R-REG-2: one RNE file, streamed: the header is checked now, the records come as they are read
    (so a 50 MB file is never all in memory as rows, nor whole as bytes when given as ``Chunks``), and the
    rejected lines are noted as they pass.

    Every physical line after the header is either a record or rejected (``rows_read`` = loaded + rejected):
    an empty line, a stray quote or a NUL byte is a rejected line, never a lost one. Line numbers count the
    header as line 1, as a spreadsheet shows them. With ``snapshot_date``, a mandate starting after it is
    rejected too (plausibility).
    """
    encoding = detect_encoding(data)
    lines = physical_lines(data, encoding)
    first = next(lines, None)
    if first is None:
        raise RneFormatError("empty file: no header line")
    header_line = first[1]
    delimiter = ";" if header_line.count(";") >= header_line.count(",") else ","
    result = ParsedRne(mandate_family=file_type.family, encoding=encoding, delimiter=delimiter)
    try:
        header = split_line(header_line, delimiter)
    except BadLine as error:
        raise RneFormatError(f"header line: {error}") from None
    index = {_header_key(name): i for i, name in enumerate(header)}
    missing = [name for name in _REQUIRED_TAIL if name not in index]
    layout = _LAYOUTS[file_type]
    code_at = _find(index, layout.code)
    name_at = _find(index, layout.name)
    if missing or code_at is None:
        absent = [*missing, *([] if code_at is not None else [layout.code[0]])]
        raise RneFormatError(f"header of a {file_type} file lacks the columns {', '.join(absent)}")
    width = len(header)
    family_at, given_at, birth_at = index[_FAMILY], index[_GIVEN], index[_BIRTH]
    start_at = index[_MANDATE_START]
    sex_at = index.get(_SEX)
    function_at = index.get(_FUNCTION)
    function_start_at = index.get(_FUNCTION_START)
    department_at = index.get(_DEPARTMENT)
    return result, _records(
        result,
        lines,
        _Columns(
            width,
            family_at,
            given_at,
            birth_at,
            start_at,
            code_at,
            name_at,
            sex_at,
            function_at,
            function_start_at,
            department_at,
            layout.pad_commune,
        ),
        snapshot_date,
    )


@dataclass(frozen=True, slots=True)
class _Columns:
    width: int
    family: int
    given: int
    birth: int
    start: int
    code: int
    name: int | None
    sex: int | None
    function: int | None
    function_start: int | None
    department: int | None
    pad_commune: bool


def _records(
    result: ParsedRne, lines: Iterator[tuple[int, str]], columns: _Columns, snapshot_date: date | None
) -> Iterator[RneRecord]:
    rejected, delimiter, width = result.rejected, result.delimiter, columns.width
    family_at, given_at, birth_at, start_at = columns.family, columns.given, columns.birth, columns.start
    code_at, name_at, sex_at, function_at = columns.code, columns.name, columns.sex, columns.function
    function_start_at, department_at = columns.function_start, columns.department
    for line, raw in lines:
        if not raw.strip():
            rejected.append(RejectedRow(line, "empty line"))
            continue
        try:
            row = split_line(raw, delimiter)
        except BadLine as error:
            rejected.append(RejectedRow(line, str(error)))
            continue
        if len(row) != width:
            rejected.append(RejectedRow(line, f"{len(row)} columns, the header has {width}"))
            continue
        family_name, given_names = row[family_at].strip(), row[given_at].strip()
        if not family_name or not given_names:
            rejected.append(RejectedRow(line, "family name or given names missing"))
            continue
        if max(len(family_name), len(given_names)) > NAME_MAX_LENGTH:
            rejected.append(RejectedRow(line, f"a name longer than {NAME_MAX_LENGTH} characters"))
            continue
        code = row[code_at].strip()
        if not code:
            rejected.append(RejectedRow(line, "collectivité code missing"))
            continue
        try:
            birth_date = parse_date(row[birth_at])
        except ValueError as exc:
            rejected.append(RejectedRow(line, f"birth date: {exc}"))
            continue
        try:
            mandate_start = parse_date(row[start_at])
        except ValueError as exc:
            rejected.append(RejectedRow(line, f"mandate start date: {exc}"))
            continue
        function_start: date | None = None
        if function_start_at is not None and row[function_start_at].strip():
            try:
                function_start = parse_date(row[function_start_at])
            except ValueError as exc:
                rejected.append(RejectedRow(line, f"function start date: {exc}"))
                continue
        implausible = _implausible(birth_date, mandate_start, snapshot_date)
        if implausible is not None:
            rejected.append(RejectedRow(line, implausible))
            continue
        result.loaded += 1
        yield (
            RneRecord(
                line,
                family_name,
                given_names,
                normalise_name(family_name),
                normalise_name(given_names),
                birth_date,
                row[sex_at].strip() if sex_at is not None else "",
                pad_commune_code(code) if columns.pad_commune else code,
                row[name_at].strip() if name_at is not None else "",
                row[department_at].strip() if department_at is not None else "",
                mandate_start,
                row[function_at].strip() if function_at is not None else "",
                function_start,
            )
        )
