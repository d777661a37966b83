"""RNE import: a snapshot of one mandate type merged into the registry (R-REG-1, R-REG-2).

The job parses the file and owns the transaction; this applies the parsed rows through the repository and
says what changed.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, Protocol
from uuid import UUID, uuid4

from dife_contracts.enums import MandateFamily, RneFileType
from servicekit.rules import RuleBroken

from rights_ledger.domain.parameters import parameters_at
from rights_ledger.domain.rne import ParsedRne, RneRecord
from rights_ledger.domain.snapshot import (
    MergeCounts,
    SnapshotLimits,
    check_ending_plausible,
    check_readable_enough,
)

MAX_REJECTED_IN_REPORT = 10_000
UPLOAD_CHUNK_BYTES = 1 << 20
"""Size of the pieces an upload is stored in: a few of them in memory at a time, whatever the file's size."""


class UploadChunks(Protocol):
    async def append(self, upload_id: UUID, seq: int, chunk: bytes) -> None: ...


@dataclass(frozen=True, slots=True)
class StoredUpload:
    """An RNE file stored in chunks: how many, its size, its line count (for progress) and its SHA-256 (the
    idempotency fingerprint of the request that brought it)."""

    upload_id: UUID
    chunks: int
    size: int
    lines: int
    sha256: str


async def store_upload(store: UploadChunks, pieces: AsyncIterator[bytes]) -> StoredUpload:
    """R-REG-1: store an uploaded file as it streams in, ``UPLOAD_CHUNK_BYTES`` at a time (issue 8: an
    import's memory does not grow with its file)."""
    upload_id, digest = uuid4(), hashlib.sha256()
    buffer, seq, size, lines = bytearray(), 0, 0, 0
    async for piece in pieces:
        digest.update(piece)
        size += len(piece)
        lines += piece.count(b"\n")
        buffer += piece
        while len(buffer) >= UPLOAD_CHUNK_BYTES:
            await store.append(upload_id, seq, bytes(buffer[:UPLOAD_CHUNK_BYTES]))
            del buffer[:UPLOAD_CHUNK_BYTES]
            seq += 1
    if buffer:
        await store.append(upload_id, seq, bytes(buffer))
        seq += 1
    return StoredUpload(upload_id, seq, size, lines, digest.hexdigest())


AMBIGUOUS_REASON = "R-ACT-1: several élus share this identity (homonyms); the line cannot be attributed"


class SnapshotStore(Protocol):
    async def stage(
        self, chunks: AsyncIterator[Sequence[RneRecord]], loaded: Callable[[int], Awaitable[None]]
    ) -> None: ...
    async def open_mandates(self, file_type: RneFileType) -> int: ...
    async def merge(
        self, file_type: RneFileType, family: MandateFamily, snapshot_date: date, cap_cents: int
    ) -> MergeCounts: ...
    async def publish_changes(self, snapshot_date: date) -> int: ...


def parse_report(parsed: ParsedRne) -> dict[str, Any]:
    """R-REG-1: what the file held: lines read, loaded and rejected (why)."""
    rejected = [{"line": r.line, "reason": r.reason} for r in parsed.rejected]
    return {
        "rows_read": parsed.rows_read,
        "rows_loaded": parsed.loaded,
        "rows_rejected": len(rejected),
        "encoding": parsed.encoding,
        "delimiter": parsed.delimiter,
        "rejected": rejected[:MAX_REJECTED_IN_REPORT],
    }


def merged_report(parsed: dict[str, Any], applied: dict[str, Any]) -> dict[str, Any]:
    """The import's report: the parse's, the merge's, and the homonym lines counted as rejected (R-ACT-1), so
    that ``rows_read`` = ``rows_loaded`` + ``rows_rejected`` still holds."""
    report = dict(parsed)
    applied = dict(applied)
    ambiguous = applied.pop("ambiguous_lines")
    report["timings_s"] = applied.pop("timings_s")
    report["rejected"] = sorted([*parsed["rejected"], *ambiguous], key=lambda r: r["line"])[
        :MAX_REJECTED_IN_REPORT
    ]
    report["rows_rejected"] = parsed["rows_rejected"] + len(ambiguous)
    report["rows_loaded"] = parsed["rows_loaded"] - len(ambiguous)
    return report | applied


async def apply_snapshot(
    store: SnapshotStore,
    parsed: ParsedRne,
    chunks: AsyncIterator[Sequence[RneRecord]],
    *,
    file_type: RneFileType,
    snapshot_date: date,
    loaded: Callable[[int], Awaitable[None]],
    read: Callable[[], Awaitable[None]],
    limits: SnapshotLimits,
    force: bool = False,
) -> dict[str, Any]:
    """R-REG-2: merge the snapshot; a mandate of its type open before and absent from it ends at its date.

    A file where no row can be read changes nothing (otherwise every open mandate of its type would end);
    nor does one with too many rejected lines, or one that would end too many open mandates, unless forced.
    The file is read as it is staged (``chunks`` fill ``parsed``); ``read`` is told once it is all read.
    The caller's transaction must roll back on a refusal (the rows are staged, or merged, by then).
    """
    timings: dict[str, float] = {}
    clock = time.perf_counter()
    await store.stage(chunks, loaded)
    timings["read_and_stage"] = round(time.perf_counter() - clock, 3)
    await read()
    if parsed.loaded == 0:
        raise RuleBroken("R-REG-1", "no row of the file could be read; nothing was changed")
    check_readable_enough(parsed.rows_read, len(parsed.rejected), limits, force=force)
    open_before = await store.open_mandates(file_type)
    clock = time.perf_counter()
    counts = await store.merge(
        file_type, parsed.mandate_family, snapshot_date, parameters_at(snapshot_date).cap_cents
    )
    timings["merge"] = round(time.perf_counter() - clock, 3)
    check_ending_plausible(open_before, counts.mandates_ended, file_type.value, limits, force=force)
    clock = time.perf_counter()
    events = await store.publish_changes(snapshot_date)
    timings["events"] = round(time.perf_counter() - clock, 3)
    return {
        "ambiguous_lines": [
            {"line": line, "reason": AMBIGUOUS_REASON}
            for line in counts.ambiguous_lines[:MAX_REJECTED_IN_REPORT]
        ],
        "elus_created": counts.elus_created,
        "mandates_created": counts.mandates_created,
        "mandates_updated": counts.mandates_updated,
        "mandates_ended": counts.mandates_ended,
        "events": events,
        "timings_s": timings,
    }
