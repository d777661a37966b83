"""The RNE import as a background job (R-REG-1, R-REG-2): parse the uploaded file, then merge it in one
transaction that also drops the file, so a job taken up again after a crash starts again from the file."""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any
from uuid import UUID

from dife_contracts.enums import RneFileType
from servicekit.rules import RuleBroken
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rights_ledger.adapters.jobs import JobProgress, finish_with_report, stored_file
from rights_ledger.adapters.registry import SnapshotRepository
from rights_ledger.domain.rne import RneFormatError, parse_rne
from rights_ledger.use_cases.registry import apply_snapshot, parse_report


class ImportJob:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def run(self, job_id: UUID, params: dict[str, Any], progress: JobProgress) -> None:
        file_type = RneFileType(params["file_type"])
        snapshot_date = date.fromisoformat(params["snapshot_date"])
        async with self._sessionmaker() as session:
            payload, merged = await stored_file(session, job_id)
        if payload is None:
            if merged:
                return  # merged before a crash; the file was dropped with the merge
            raise RuleBroken("R-REG-1", "the import has no file")
        started = time.perf_counter()
        try:
            parsed = await asyncio.to_thread(parse_rne, payload, file_type)
        except RneFormatError as error:
            raise RuleBroken("R-REG-1", str(error)) from error
        report = parse_report(parsed, time.perf_counter() - started)
        rejected = report["rows_rejected"]
        await progress.update(rows_total=parsed.rows_read, rows_done=rejected, report=report)

        async def loaded(rows: int) -> None:
            await progress.update(rows_done=rejected + rows)

        async with self._sessionmaker.begin() as session:
            applied = await apply_snapshot(
                SnapshotRepository(session),
                parsed,
                file_type=file_type,
                snapshot_date=snapshot_date,
                loaded=loaded,
            )
            report["timings_s"].update(applied.pop("timings_s"))
            report.update(applied)
            await finish_with_report(session, job_id, report, rows_done=parsed.rows_read)
