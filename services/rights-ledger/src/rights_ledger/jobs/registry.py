"""The RNE import as a background job (R-REG-1, R-REG-2): parse the uploaded file, then merge it in one
transaction. Taken up again after a crash, it starts again from the file (kept until the job has its report);
merging a snapshot twice changes nothing the second time."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any

from dife_contracts.enums import RneFileType
from servicekit.jobs import JobContext
from servicekit.rules import RuleBroken

from rights_ledger.adapters.registry import SnapshotRepository
from rights_ledger.domain.rne import RneFormatError, parse_rne
from rights_ledger.domain.snapshot import SnapshotLimits
from rights_ledger.use_cases.registry import apply_snapshot, merged_report, parse_report


async def import_snapshot(ctx: JobContext, limits: SnapshotLimits) -> dict[str, Any]:
    """``force``: import past the limits; ``dry_run``: the full report, and nothing changed (rolled back)."""
    file_type = RneFileType(ctx.params["file_type"])
    snapshot_date = date.fromisoformat(ctx.params["snapshot_date"])
    force, dry_run = bool(ctx.params.get("force")), bool(ctx.params.get("dry_run"))
    if ctx.payload is None:
        raise RuleBroken("R-REG-1", "the import has no file")
    started = time.perf_counter()
    try:
        parsed = await asyncio.to_thread(parse_rne, ctx.payload, file_type, snapshot_date)
    except RneFormatError as error:
        raise RuleBroken("R-REG-1", str(error)) from error
    report = parse_report(parsed, time.perf_counter() - started)
    rejected = report["rows_rejected"]
    await ctx.progress(total=parsed.rows_read, done=rejected, report=report)

    async def loaded(rows: int) -> None:
        await ctx.progress(done=rejected + rows)

    async with ctx.sessionmaker() as session, session.begin() as transaction:
        applied = await apply_snapshot(
            SnapshotRepository(session),
            parsed,
            file_type=file_type,
            snapshot_date=snapshot_date,
            loaded=loaded,
            limits=limits,
            force=force,
        )
        if dry_run:
            await transaction.rollback()
    report = merged_report(report, applied) | {"dry_run": dry_run, "forced": force}
    await ctx.progress(done=parsed.rows_read)
    return report
