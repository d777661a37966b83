"""RNE snapshot SQL: COPY into a staging table, merge set-based, publish what changed (R-REG-1, R-REG-2).

Every call runs in the caller's transaction: the load, the merge and its events apply entirely or not at all.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import date
from typing import Any

from dife_contracts.enums import MandateFamily, RneFileType
from dife_contracts.events import EluMandatesChanged, EluRegistered
from servicekit.outbox import insert_from_select_params, insert_from_select_sql
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from rights_ledger.domain.rne import RneRecord
from rights_ledger.domain.snapshot import MergeCounts

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
        function_start date,
        homonym_key text COLLATE "C" NOT NULL DEFAULT ''
    ) ON COMMIT DROP
"""

# R-ACT-1, homonyms: nobody sits on two municipal councils, so one identity in two communes of a municipal
# snapshot is two persons, told apart by their commune (``homonym_key``); once split, an identity stays split.
# A row of another file whose identity is several élus cannot be attributed: rejected, and the mandates of
# those élus are not ended by its absence.
_HOMONYM_STATEMENTS = (
    """
    CREATE TEMP TABLE import_split ON COMMIT DROP AS
    SELECT family_key, given_key, birth_date FROM import_rows
    WHERE CAST(:splits_by_commune AS boolean)
    GROUP BY family_key, given_key, birth_date HAVING count(DISTINCT collectivite_code) > 1
    UNION
    SELECT e.family_key, e.given_key, e.birth_date FROM elus e
    JOIN (SELECT DISTINCT family_key, given_key, birth_date FROM import_rows) r
      USING (family_key, given_key, birth_date)
    WHERE CAST(:splits_by_commune AS boolean) AND e.homonym_key <> ''
    """,
    """
    UPDATE import_rows r SET homonym_key = r.collectivite_code
    FROM import_split s
    WHERE (r.family_key, r.given_key, r.birth_date) = (s.family_key, s.given_key, s.birth_date)
    """,
    # The élu known before the split keeps the commune of its open municipal mandate.
    """
    UPDATE elus e SET homonym_key = m.collectivite_code
    FROM mandates m, import_split s
    WHERE e.homonym_key = '' AND m.elu_id = e.elu_id AND m.file_type = :file_type AND m.end_date IS NULL
      AND (e.family_key, e.given_key, e.birth_date) = (s.family_key, s.given_key, s.birth_date)
      AND NOT EXISTS (SELECT 1 FROM elus o WHERE (o.family_key, o.given_key, o.birth_date, o.homonym_key)
                      = (e.family_key, e.given_key, e.birth_date, m.collectivite_code))
    """,
    """
    CREATE TEMP TABLE import_ambiguous ON COMMIT DROP AS
    SELECT r.line, e.elu_id
    FROM import_rows r
    JOIN (SELECT family_key, given_key, birth_date FROM elus GROUP BY 1, 2, 3 HAVING count(*) > 1) a
      USING (family_key, given_key, birth_date)
    JOIN elus e USING (family_key, given_key, birth_date)
    WHERE NOT CAST(:splits_by_commune AS boolean)
    """,
    "DELETE FROM import_rows WHERE line IN (SELECT line FROM import_ambiguous)",
    """
    UPDATE import_rows r SET homonym_key = e.homonym_key
    FROM elus e
    WHERE NOT CAST(:splits_by_commune AS boolean)
      AND (r.family_key, r.given_key, r.birth_date) = (e.family_key, e.given_key, e.birth_date)
    """,
)

_MERGE_STATEMENTS = (
    "ANALYZE import_rows",
    "CREATE TEMP TABLE import_new_elus (elu_id uuid PRIMARY KEY) ON COMMIT DROP",
    "CREATE TEMP TABLE import_changed (elu_id uuid NOT NULL, change text NOT NULL) ON COMMIT DROP",
    # R-REG-2: a new person (normalised names, birth date) becomes an élu with an inactive account.
    """
    WITH persons AS (
        SELECT DISTINCT ON (family_key, given_key, birth_date, homonym_key)
               family_name, given_names, family_key, given_key, birth_date, sex, homonym_key
        FROM import_rows
        ORDER BY family_key, given_key, birth_date, homonym_key, line
    ), inserted AS (
        INSERT INTO elus (elu_id, family_name, given_names, family_key, given_key, birth_date, sex,
                          homonym_key)
        SELECT ledger_new_id(), family_name, given_names, family_key, given_key, birth_date, sex,
               homonym_key
        FROM persons
        ON CONFLICT (family_key, given_key, birth_date, homonym_key) DO NOTHING
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
    JOIN elus e USING (family_key, given_key, birth_date, homonym_key)
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
          AND m.elu_id NOT IN (SELECT elu_id FROM import_ambiguous)
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


class SnapshotRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def stage(
        self, chunks: AsyncIterator[Sequence[RneRecord]], loaded: Callable[[int], Awaitable[None]]
    ) -> None:
        """COPY the good rows, chunk by chunk as they are read, into a temporary staging table (no WAL,
        dropped at commit)."""
        await self.session.execute(text("SET LOCAL work_mem = '128MB'"))
        await self.session.execute(text("SET LOCAL jit = off"))  # compiling costs more than it saves here
        await self.session.execute(text(_STAGING_DDL))
        connection = await self.session.connection()
        raw = await connection.get_raw_connection()
        driver = raw.driver_connection
        assert driver is not None
        done = 0
        async for chunk in chunks:
            await driver.copy_records_to_table("import_rows", records=chunk, columns=list(RneRecord._fields))
            done += len(chunk)
            await loaded(done)

    async def open_mandates(self, file_type: RneFileType) -> int:
        """How many mandates of this type are open before the snapshot (what it could end)."""
        found = await self.session.scalar(
            text("SELECT count(*) FROM mandates WHERE file_type = :file_type AND end_date IS NULL"),
            {"file_type": file_type.value},
        )
        return int(found or 0)

    async def merge(
        self, file_type: RneFileType, family: MandateFamily, snapshot_date: date, cap_cents: int
    ) -> MergeCounts:
        """R-REG-2: new persons and mandates, changed ones, and the ended ones (absent from the snapshot)."""
        bind = {
            "splits_by_commune": file_type is RneFileType.CM,
            "file_type": file_type.value,
            "family": family.value,
            "snapshot_date": snapshot_date,
            "cap_cents": cap_cents,
        }
        for statement in (*_HOMONYM_STATEMENTS, *_MERGE_STATEMENTS):
            await self.session.execute(text(statement), _used(statement, bind))
        row = (await self.session.execute(text(_COUNTS_SQL))).one()
        ambiguous = await self.session.execute(
            text("SELECT DISTINCT line FROM import_ambiguous ORDER BY line")
        )
        return MergeCounts(
            row.elus_created,
            row.mandates_created,
            row.mandates_updated,
            row.mandates_ended,
            ambiguous_lines=list(ambiguous.scalars()),
        )

    async def publish_changes(self, snapshot_date: date) -> int:
        """``elu_registered`` for each new élu, ``elu_mandates_changed`` for each changed one; their count."""
        await self.session.execute(text("ANALYZE import_new_elus"))
        await self.session.execute(text("ANALYZE import_changed"))
        registered = await self.session.execute(
            text(insert_from_select_sql(_REGISTERED_ROWS)),
            insert_from_select_params(EluRegistered),
        )
        changed = await self.session.execute(
            text(insert_from_select_sql(_CHANGED_ROWS)),
            {**insert_from_select_params(EluMandatesChanged), "snapshot_date": snapshot_date},
        )
        return int(registered.rowcount + changed.rowcount)  # type: ignore[attr-defined]


def _used(statement: str, bind: dict[str, Any]) -> dict[str, Any]:
    return {name: value for name, value in bind.items() if f":{name}" in statement}
