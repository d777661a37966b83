"""The RNE import as a background job (R-REG-1, R-REG-2): the uploaded file is read back chunk by chunk from
``rne_upload_chunks`` (never whole in memory, as bytes or as rows), staged, then merged, in one transaction.
Taken up again after a crash, it starts again from the file (kept until the job has its report, then
deleted); merging a snapshot twice changes nothing."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator, Iterator
from datetime import date
from typing import Any
from uuid import UUID

from dife_contracts.enums import RneFileType
from servicekit.jobs import JobContext
from servicekit.rules import RuleBroken

from rights_ledger.adapters.registry import SnapshotRepository
from rights_ledger.adapters.uploads import UploadStore
from rights_ledger.domain.rne import Chunks, RneFormatError, RneRecord, as_chunks, read_rne
from rights_ledger.domain.snapshot import SnapshotLimits
from rights_ledger.use_cases.registry import apply_snapshot, merged_report, parse_report

CHUNK_ROWS = 20_000


def _stored_file(ctx: JobContext, loop: asyncio.AbstractEventLoop) -> Chunks:
    """The uploaded file's chunks, read one at a time from the parser's worker thread (each read runs on the
    event loop, on a connection of its own); a job submitted with the file inline (``payload``, before
    revision 0008) reads that."""
    upload_id = ctx.params.get("upload_id")
    if upload_id is None:
        if ctx.payload is None:
            raise RuleBroken("R-REG-1", "the import has no file")
        return as_chunks(ctx.payload)

    async def read(seq: int) -> bytes | None:
        async with ctx.sessionmaker() as session:
            return await UploadStore(session).chunk(UUID(upload_id), seq)

    def chunks() -> Iterator[bytes | memoryview]:
        for seq in itertools.count():
            chunk = asyncio.run_coroutine_threadsafe(read(seq), loop).result()
            if chunk is None:
                return
            yield chunk

    return chunks


async def _delete_upload(ctx: JobContext) -> None:
    """Once the job ends (report or error), its file goes: only the report stays (issue 8)."""
    upload_id = ctx.params.get("upload_id")
    if upload_id is not None:
        async with ctx.sessionmaker.begin() as session:
            await UploadStore(session).delete(UUID(upload_id))


async def _in_chunks(records: Iterator[RneRecord]) -> AsyncIterator[list[RneRecord]]:
    """Parse ``CHUNK_ROWS`` records at a time in a worker thread, so the event loop keeps serving."""
    while chunk := await asyncio.to_thread(lambda: list(itertools.islice(records, CHUNK_ROWS))):
        yield chunk


async def import_snapshot(ctx: JobContext, limits: SnapshotLimits) -> dict[str, Any]:
    """``force``: import past the limits; ``dry_run``: the full report, and nothing changed (rolled back)."""
    try:
        return await _import(ctx, limits)
    finally:
        await _delete_upload(ctx)


async def _import(ctx: JobContext, limits: SnapshotLimits) -> dict[str, Any]:
    file_type = RneFileType(ctx.params["file_type"])
    snapshot_date = date.fromisoformat(ctx.params["snapshot_date"])
    force, dry_run = bool(ctx.params.get("force")), bool(ctx.params.get("dry_run"))
    stored = _stored_file(ctx, asyncio.get_running_loop())
    try:
        parsed, records = await asyncio.to_thread(read_rne, stored, file_type, snapshot_date)
    except RneFormatError as error:
        raise RuleBroken("R-REG-1", str(error)) from error
    lines = ctx.params.get("upload_lines")
    await ctx.progress(total=int(lines) if lines is not None else 0, done=0)

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
