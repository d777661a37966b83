"""The RNE import as a background job (R-REG-1, R-REG-2): the uploaded file is read and staged chunk by
chunk (never all in memory as rows), then merged, in one transaction. Taken up again after a crash, it starts
again from the file (kept until the job has its report); merging a snapshot twice changes nothing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any

from dife_contracts.enums import RneFileType
from servicekit.jobs import JobContext
from servicekit.rules import RuleBroken

from rights_ledger.adapters.registry import SnapshotRepository
from rights_ledger.domain.rne import RneFormatError, RneRecord, read_rne
from rights_ledger.domain.snapshot import SnapshotLimits
from rights_ledger.use_cases.registry import apply_snapshot, merged_report, parse_report

CHUNK_ROWS = 50_000


async def _in_chunks(records: Iterator[RneRecord]) -> AsyncIterator[list[RneRecord]]:
    """Parse ``CHUNK_ROWS`` records at a time in a worker thread, so the event loop keeps serving."""
    while chunk := await asyncio.to_thread(lambda: list(itertools.islice(records, CHUNK_ROWS))):
        yield chunk


async def import_snapshot(ctx: JobContext, limits: SnapshotLimits) -> dict[str, Any]:
    """``force``: import past the limits; ``dry_run``: the full report, and nothing changed (rolled back)."""
    file_type = RneFileType(ctx.params["file_type"])
    snapshot_date = date.fromisoformat(ctx.params["snapshot_date"])
    force, dry_run = bool(ctx.params.get("force")), bool(ctx.params.get("dry_run"))
    if ctx.payload is None:
        raise RuleBroken("R-REG-1", "the import has no file")
    try:
        parsed, records = await asyncio.to_thread(read_rne, ctx.payload, file_type, snapshot_date)
    except RneFormatError as error:
        raise RuleBroken("R-REG-1", str(error)) from error
    await ctx.progress(total=ctx.payload.count(b"\n"), done=0)

    async def loaded(rows: int) -> None:
        await ctx.progress(done=rows + len(parsed.rejected))

    async def read() -> None:
        await ctx.progress(total=parsed.rows_read, done=parsed.rows_read, report=parse_report(parsed))

    async with ctx.sessionmaker() as session, session.begin() as transaction:
        applied = await apply_snapshot(
            SnapshotRepository(session),
            parsed,
            _in_chunks(records),
            file_type=file_type,
            snapshot_date=snapshot_date,
            loaded=loaded,
            read=read,
            limits=limits,
            force=force,
        )
        if dry_run:
            await transaction.rollback()
    return merged_report(parse_report(parsed), applied) | {"dry_run": dry_run, "forced": force}
