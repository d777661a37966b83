"""RNE import: parse, COPY into a staging table, merge set-based, publish what changed (R-REG-1, R-REG-2).

The whole merge and its events are one transaction: the snapshot applies entirely or not at all, and a job
taken up again after a crash starts from the file, which is kept in the job row.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import date
from typing import Any
from uuid import UUID

from dife_contracts.enums import MandateFamily, RneFileType
from dife_contracts.events import EluMandatesChanged, EluRegistered
from dife_contracts.events.ledger import Mandate as MandatePayload
from servicekit.outbox import enqueue_many
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession, async_sessionmaker

from rights_ledger.adapters.jobs import JobProgress, JobRejected
from rights_ledger.adapters.tables import RNE_STAGING_COLUMNS, jobs
from rights_ledger.domain.mandates import Mandate, last_mandate_end
from rights_ledger.domain.parameters import parameters_at
from rights_ledger.domain.rne import MANDATE_TYPE, RneFormatError, RneRecord, parse_rne
from rights_ledger.use_cases import SOURCE

MAX_REJECTED_IN_REPORT = 10_000

_MERGE_STATEMENTS = (
    "CREATE TEMP TABLE import_new_elus (elu_id uuid PRIMARY KEY) ON COMMIT DROP",
    "CREATE TEMP TABLE import_changed (elu_id uuid NOT NULL, change text NOT NULL) ON COMMIT DROP",
    # R-REG-2: a new person (normalised names, birth date) becomes an élu with an inactive account.
    """
    WITH persons AS (
        SELECT DISTINCT ON (family_key, given_key, birth_date)
               family_name, given_names, family_key, given_key, birth_date, sex
        FROM rne_staging WHERE job_id = :job_id
        ORDER BY family_key, given_key, birth_date, line
    ), inserted AS (
        INSERT INTO elus (elu_id, family_name, given_names, family_key, given_key, birth_date, sex)
        SELECT gen_random_uuid(), family_name, given_names, family_key, given_key, birth_date, sex
        FROM persons
        ON CONFLICT (family_key, given_key, birth_date) DO NOTHING
        RETURNING elu_id
    )
    INSERT INTO import_new_elus SELECT elu_id FROM inserted
    """,
    "INSERT INTO accounts (elu_id, cap_cents) SELECT elu_id, :cap_cents FROM import_new_elus",
    # One mandate per (élu, collectivité, start): the file has one row per function.
    """
    CREATE TEMP TABLE import_mandates ON COMMIT DROP AS
    SELECT e.elu_id, s.collectivite_code, s.mandate_start,
           min(s.collectivite_name) AS collectivite_name, min(s.department_code) AS department_code,
           coalesce(string_agg(DISTINCT nullif(s.function, ''), ' ; '), '') AS function
    FROM rne_staging s
    JOIN elus e USING (family_key, given_key, birth_date)
    WHERE s.job_id = :job_id
    GROUP BY e.elu_id, s.collectivite_code, s.mandate_start
    """,
    "ANALYZE import_mandates",
    """
    WITH merged AS (
        INSERT INTO mandates (mandate_id, elu_id, file_type, family, collectivite_code, collectivite_name,
                              department_code, function, start_date)
        SELECT gen_random_uuid(), elu_id, :file_type, :family, collectivite_code, collectivite_name,
               department_code, function, mandate_start
        FROM import_mandates
        ON CONFLICT (elu_id, file_type, collectivite_code, start_date) DO UPDATE
            SET end_date = NULL, function = EXCLUDED.function, collectivite_name = EXCLUDED.collectivite_name,
                updated_at = now()
            WHERE mandates.end_date IS NOT NULL
               OR mandates.function IS DISTINCT FROM EXCLUDED.function
               OR mandates.collectivite_name IS DISTINCT FROM EXCLUDED.collectivite_name
        RETURNING elu_id, CASE WHEN xmax = 0 THEN 'created' ELSE 'updated' END AS change
    )
    INSERT INTO import_changed SELECT elu_id, change FROM merged
    """,
    # R-REG-2: a mandate of this type open before and absent from the snapshot ended at the snapshot date.
    """
    WITH ended AS (
        UPDATE mandates m SET end_date = greatest(:snapshot_date, m.start_date), updated_at = now()
        WHERE m.file_type = :file_type AND m.end_date IS NULL
          AND NOT EXISTS (
              SELECT 1 FROM import_mandates i
              WHERE i.elu_id = m.elu_id AND i.collectivite_code = m.collectivite_code
                AND i.mandate_start = m.start_date)
        RETURNING m.elu_id
    )
    INSERT INTO import_changed SELECT elu_id, 'ended' FROM ended
    """,
    # An account closed after expiry opens again when its élu holds a mandate again.
    """
    UPDATE accounts SET status = CASE WHEN activated_at IS NULL THEN 'inactive' ELSE 'active' END
    WHERE status = 'closed' AND elu_id IN (SELECT elu_id FROM import_changed WHERE change <> 'ended')
    """,
)

_COUNTS_SQL = """
    SELECT (SELECT count(*) FROM import_new_elus) AS elus_created,
           count(*) FILTER (WHERE change = 'created') AS mandates_created,
           count(*) FILTER (WHERE change = 'updated') AS mandates_updated,
           count(*) FILTER (WHERE change = 'ended') AS mandates_ended
    FROM import_changed
"""

_TOUCHED_SQL = """
    SELECT e.elu_id, e.family_name, e.given_names, (n.elu_id IS NOT NULL) AS is_new,
           m.mandate_id, m.file_type, m.family, m.collectivite_code, m.collectivite_name, m.function,
           m.start_date, m.end_date
    FROM (SELECT elu_id FROM import_new_elus UNION SELECT elu_id FROM import_changed) t
    JOIN elus e ON e.elu_id = t.elu_id
    LEFT JOIN import_new_elus n ON n.elu_id = t.elu_id
    JOIN mandates m ON m.elu_id = t.elu_id
    ORDER BY e.elu_id
"""


class RegistryImport:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def run(self, job_id: UUID, params: dict[str, Any], progress: JobProgress) -> None:
        file_type = RneFileType(params["file_type"])
        snapshot_date = date.fromisoformat(params["snapshot_date"])
        async with self._sessionmaker() as session:
            payload = await session.scalar(select(jobs.c.payload).where(jobs.c.job_id == job_id))
        if payload is None:
            raise JobRejected("the import has no file")
        try:
            parsed = await asyncio.to_thread(parse_rne, payload, file_type)
        except RneFormatError as error:
            raise JobRejected(f"R-REG-1: {error}") from error
        rejected = [{"line": r.line, "reason": r.reason} for r in parsed.rejected]
        report: dict[str, Any] = {
            "rows_read": parsed.rows_read,
            "rows_loaded": len(parsed.records),
            "rows_rejected": len(rejected),
            "encoding": parsed.encoding,
            "delimiter": parsed.delimiter,
            "rejected": rejected[:MAX_REJECTED_IN_REPORT],
        }
        await progress.update(rows_total=parsed.rows_read, rows_done=0, report=report)
        if not parsed.records:
            raise JobRejected("R-REG-1: no row of the file could be read; nothing was changed")
        async with self._sessionmaker.begin() as session:
            connection = await session.connection()
            await _copy_staging(connection, job_id, parsed.records, progress, len(rejected))
            counts = await self._merge(session, job_id, file_type, snapshot_date)
            await connection.execute(
                text("DELETE FROM rne_staging WHERE job_id = :job_id"), {"job_id": job_id}
            )
        report.update(counts)
        await progress.update(rows_done=parsed.rows_read, report=report)

    async def _merge(
        self, session: AsyncSession, job_id: UUID, file_type: RneFileType, snapshot_date: date
    ) -> dict[str, int]:
        bind = {
            "job_id": job_id,
            "file_type": file_type.value,
            "family": MANDATE_TYPE[file_type].value,
            "snapshot_date": snapshot_date,
            "cap_cents": parameters_at(snapshot_date).cap_cents,
        }
        for statement in _MERGE_STATEMENTS:
            await session.execute(text(statement), _used(statement, bind))
        counts = (await session.execute(text(_COUNTS_SQL), _used(_COUNTS_SQL, bind))).one()
        registered, changed = await _events(session, snapshot_date)
        await enqueue_many(session, registered, source=SOURCE)
        await enqueue_many(session, changed, source=SOURCE)
        return {
            "elus_created": counts.elus_created,
            "mandates_created": counts.mandates_created,
            "mandates_updated": counts.mandates_updated,
            "mandates_ended": counts.mandates_ended,
            "events": len(registered) + len(changed),
        }


def _used(statement: str, bind: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in bind.items() if f":{name}" in statement}


async def _copy_staging(
    connection: AsyncConnection, job_id: UUID, records: list[RneRecord], progress: JobProgress, rejected: int
) -> None:
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    await driver.execute("DELETE FROM rne_staging WHERE job_id = $1", job_id)
    chunk = 100_000
    for start in range(0, len(records), chunk):
        rows = [
            (
                job_id,
                r.line,
                r.family_name,
                r.given_names,
                r.family_key,
                r.given_key,
                r.birth_date,
                r.sex,
                r.collectivite_code,
                r.collectivite_name,
                r.department_code,
                r.function,
                r.mandate_start,
            )
            for r in records[start : start + chunk]
        ]
        await driver.copy_records_to_table("rne_staging", records=rows, columns=list(RNE_STAGING_COLUMNS))
        await progress.update(rows_done=start + len(rows) + rejected)
    await driver.execute("ANALYZE rne_staging")


async def _events(
    session: AsyncSession, snapshot_date: date
) -> tuple[list[EluRegistered], list[EluMandatesChanged]]:
    """``elu_registered`` per new élu, ``elu_mandates_changed`` per known one whose mandates moved."""
    connection = await session.connection()
    raw = await connection.get_raw_connection()
    driver = raw.driver_connection
    assert driver is not None
    rows = await driver.fetch(_TOUCHED_SQL)
    by_elu: dict[UUID, list[Any]] = defaultdict(list)
    for row in rows:
        by_elu[row["elu_id"]].append(row)
    registered: list[EluRegistered] = []
    changed: list[EluMandatesChanged] = []
    for elu_id, elu_rows in by_elu.items():
        payloads = [
            MandatePayload(
                mandate_id=r["mandate_id"],
                file_type=RneFileType(r["file_type"]),
                family=MandateFamily(r["family"]),
                collectivite_code=r["collectivite_code"],
                collectivite_name=r["collectivite_name"],
                function=r["function"],
                start_date=r["start_date"],
                end_date=r["end_date"],
            )
            for r in elu_rows
        ]
        first = elu_rows[0]
        if first["is_new"]:
            registered.append(
                EluRegistered(
                    elu_id=elu_id,
                    family_name=first["family_name"],
                    given_names=first["given_names"],
                    mandates=payloads,
                )
            )
        else:
            ended = last_mandate_end([Mandate(p.family, p.start_date, p.end_date) for p in payloads])
            changed.append(
                EluMandatesChanged(
                    elu_id=elu_id, mandates=payloads, last_mandate_end=ended, snapshot_date=snapshot_date
                )
            )
    return registered, changed
