"""RNE import: parse, COPY into a staging table, merge set-based, publish what changed (R-REG-1, R-REG-2).

The load, the merge and its events are one transaction: the snapshot applies entirely or not at all, and a
job taken up again after a crash starts again from the file, which is kept in the job row.
"""

from __future__ import annotations

import asyncio
import time
from datetime import date
from typing import Any
from uuid import UUID

from dife_contracts.enums import RneFileType
from dife_contracts.events import EluMandatesChanged, EluRegistered
from servicekit.outbox import insert_from_select_params, insert_from_select_sql
from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from rights_ledger.adapters.jobs import JobProgress, JobRejected
from rights_ledger.adapters.tables import jobs
from rights_ledger.domain.parameters import parameters_at
from rights_ledger.domain.rne import RneFormatError, RneRecord, parse_rne
from rights_ledger.use_cases import SOURCE

MAX_REJECTED_IN_REPORT = 10_000
COPY_CHUNK_ROWS = 100_000

_STAGING_DDL = """
    CREATE TEMP TABLE import_rows (
        line integer NOT NULL,
        family_name text NOT NULL,
        given_names text NOT NULL,
        family_key text COLLATE "C" NOT NULL,
        given_key text COLLATE "C" NOT NULL,
        birth_date date NOT NULL,
        sex text NOT NULL,
        collectivite_code text COLLATE "C" NOT NULL,
        collectivite_name text NOT NULL,
        department_code text NOT NULL,
        mandate_start date NOT NULL,
        function text NOT NULL,
        function_start date
    ) ON COMMIT DROP
"""

_MERGE_STATEMENTS = (
    "ANALYZE import_rows",
    "CREATE TEMP TABLE import_new_elus (elu_id uuid PRIMARY KEY) ON COMMIT DROP",
    "CREATE TEMP TABLE import_changed (elu_id uuid NOT NULL, change text NOT NULL) ON COMMIT DROP",
    # R-REG-2: a new person (normalised names, birth date) becomes an élu with an inactive account.
    """
    WITH persons AS (
        SELECT DISTINCT ON (family_key, given_key, birth_date)
               family_name, given_names, family_key, given_key, birth_date, sex
        FROM import_rows
        ORDER BY family_key, given_key, birth_date, line
    ), inserted AS (
        INSERT INTO elus (elu_id, family_name, given_names, family_key, given_key, birth_date, sex)
        SELECT ledger_new_id(), family_name, given_names, family_key, given_key, birth_date, sex
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
    FROM import_rows s
    JOIN elus e USING (family_key, given_key, birth_date)
    GROUP BY e.elu_id, s.collectivite_code, s.mandate_start
    """,
    "ANALYZE import_mandates",
    """
    WITH merged AS (
        INSERT INTO mandates (mandate_id, elu_id, file_type, family, collectivite_code, collectivite_name,
                              department_code, function, start_date)
        SELECT ledger_new_id(), elu_id, :file_type, :family, collectivite_code, collectivite_name,
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

# The payloads of EluRegistered and EluMandatesChanged (dife_contracts.events.ledger), built set-based.
_MANDATES_JSON = """
    SELECT m.elu_id,
           json_agg(json_build_object(
               'mandate_id', m.mandate_id, 'file_type', m.file_type, 'family', m.family,
               'collectivite_code', m.collectivite_code, 'collectivite_name', m.collectivite_name,
               'function', m.function, 'start_date', m.start_date, 'end_date', m.end_date)
               ORDER BY m.start_date, m.mandate_id) AS mandates,
           CASE WHEN bool_and(m.end_date IS NOT NULL) THEN max(m.end_date) END AS last_mandate_end
    FROM mandates m
"""

_REGISTERED_ROWS = f"""
    SELECT e.elu_id::text AS subject,
           json_build_object('elu_id', e.elu_id, 'family_name', e.family_name, 'given_names', e.given_names,
                              'mandates', j.mandates) AS payload
    FROM import_new_elus n
    JOIN elus e ON e.elu_id = n.elu_id
    JOIN ({_MANDATES_JSON} JOIN import_new_elus x ON x.elu_id = m.elu_id GROUP BY m.elu_id) j
      ON j.elu_id = n.elu_id
    ORDER BY n.elu_id
"""

_CHANGED_ROWS = f"""
    SELECT j.elu_id::text AS subject,
           json_build_object('elu_id', j.elu_id, 'mandates', j.mandates,
                              'last_mandate_end', j.last_mandate_end,
                              'snapshot_date', CAST(:snapshot_date AS date)) AS payload
    FROM ({_MANDATES_JSON}
          WHERE m.elu_id IN (SELECT elu_id FROM import_changed)
            AND m.elu_id NOT IN (SELECT elu_id FROM import_new_elus)
          GROUP BY m.elu_id) j
    ORDER BY j.elu_id
"""


class RegistryImport:
    def __init__(self, sessionmaker: async_sessionmaker[AsyncSession]) -> None:
        self._sessionmaker = sessionmaker

    async def run(self, job_id: UUID, params: dict[str, Any], progress: JobProgress) -> None:
        file_type = RneFileType(params["file_type"])
        snapshot_date = date.fromisoformat(params["snapshot_date"])
        async with self._sessionmaker() as session:
            stored = (
                await session.execute(select(jobs.c.payload, jobs.c.report).where(jobs.c.job_id == job_id))
            ).one()
        if stored.payload is None:
            if "events" in stored.report:
                return  # merged before a crash; the file was dropped with the merge
            raise JobRejected("the import has no file")
        payload: bytes = stored.payload
        timings: dict[str, float] = {}
        clock = time.perf_counter()
        try:
            parsed = await asyncio.to_thread(parse_rne, payload, file_type)
        except RneFormatError as error:
            raise JobRejected(f"R-REG-1: {error}") from error
        timings["parse"] = round(time.perf_counter() - clock, 3)
        rejected = [{"line": r.line, "reason": r.reason} for r in parsed.rejected]
        report: dict[str, Any] = {
            "rows_read": parsed.rows_read,
            "rows_loaded": len(parsed.records),
            "rows_rejected": len(rejected),
            "encoding": parsed.encoding,
            "delimiter": parsed.delimiter,
            "rejected": rejected[:MAX_REJECTED_IN_REPORT],
            "timings_s": timings,
        }
        await progress.update(rows_total=parsed.rows_read, rows_done=len(rejected), report=report)
        if not parsed.records:
            raise JobRejected("R-REG-1: no row of the file could be read; nothing was changed")
        async with self._sessionmaker.begin() as session:
            await session.execute(text("SET LOCAL work_mem = '128MB'"))
            await session.execute(text("SET LOCAL jit = off"))  # compiling costs more than it saves here
            clock = time.perf_counter()
            await self._load(session, parsed.records, progress, len(rejected))
            timings["load"] = round(time.perf_counter() - clock, 3)
            clock = time.perf_counter()
            bind = {
                "file_type": file_type.value,
                "family": parsed.mandate_family.value,
                "snapshot_date": snapshot_date,
                "cap_cents": parameters_at(snapshot_date).cap_cents,
            }
            for statement in _MERGE_STATEMENTS:
                await session.execute(text(statement), _used(statement, bind))
            counts = (await session.execute(text(_COUNTS_SQL))).one()
            timings["merge"] = round(time.perf_counter() - clock, 3)
            clock = time.perf_counter()
            await session.execute(text("ANALYZE import_new_elus"))
            await session.execute(text("ANALYZE import_changed"))
            registered = await session.execute(
                text(insert_from_select_sql(_REGISTERED_ROWS)),
                insert_from_select_params(EluRegistered, source=SOURCE),
            )
            changed = await session.execute(
                text(insert_from_select_sql(_CHANGED_ROWS)),
                {
                    **insert_from_select_params(EluMandatesChanged, source=SOURCE),
                    "snapshot_date": snapshot_date,
                },
            )
            timings["events"] = round(time.perf_counter() - clock, 3)
            report.update(
                elus_created=counts.elus_created,
                mandates_created=counts.mandates_created,
                mandates_updated=counts.mandates_updated,
                mandates_ended=counts.mandates_ended,
                events=registered.rowcount + changed.rowcount,  # type: ignore[attr-defined]
            )
            # The file goes with the merge, in its transaction: kept until applied, not a byte longer.
            await session.execute(
                update(jobs)
                .where(jobs.c.job_id == job_id)
                .values(payload=None, report=report, rows_done=parsed.rows_read)
            )

    @staticmethod
    async def _load(
        session: AsyncSession, records: list[RneRecord], progress: JobProgress, offset: int
    ) -> None:
        """COPY the good rows into a temporary staging table (no WAL, dropped at commit)."""
        await session.execute(text(_STAGING_DDL))
        connection = await session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        for start in range(0, len(records), COPY_CHUNK_ROWS):
            chunk = records[start : start + COPY_CHUNK_ROWS]
            await driver.copy_records_to_table("import_rows", records=chunk, columns=list(RneRecord._fields))
            await progress.update(rows_done=offset + start + len(chunk))


def _used(statement: str, bind: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in bind.items() if f":{name}" in statement}
