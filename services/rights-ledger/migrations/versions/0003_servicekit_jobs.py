"""The ledger's jobs move to servicekit's `kit_jobs` (servicekit.jobs runs them); the old `jobs` table goes.

Every row is copied (history, progress, reports), so nothing in flight is lost: a pending or running import
keeps its file and runs under the new runner. The files of finished jobs are not copied: a finished job keeps
only its report (issue 8: uploaded names and birth dates no longer stay forever).

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

from alembic import op

from servicekit.migrations import create_job_tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_COLUMNS = (
    "job_id, kind, status, params, rows_done, rows_total, report, error, created_by, created_at, started_at, "
    "finished_at"
)


def upgrade() -> None:
    create_job_tables()
    op.execute(
        f"""
        INSERT INTO kit_jobs ({_COLUMNS}, payload, run_after)
        SELECT {_COLUMNS}, CASE WHEN status IN ('pending', 'running') THEN payload END, created_at
        FROM jobs
        ON CONFLICT (job_id) DO NOTHING
        """
    )
    op.execute("DROP TABLE jobs")


def downgrade() -> None:
    op.execute(
        """
        CREATE TABLE jobs (
            job_id uuid PRIMARY KEY,
            kind text NOT NULL CHECK (kind IN ('rne_import', 'accrual_campaign', 'expiry_run')),
            status text NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'running', 'succeeded', 'failed')),
            params jsonb NOT NULL,
            payload bytea,
            rows_done bigint NOT NULL DEFAULT 0,
            rows_total bigint NOT NULL DEFAULT 0,
            report jsonb NOT NULL DEFAULT '{}'::jsonb,
            error text,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz,
            finished_at timestamptz
        )
        """
    )
    op.execute(
        f"""
        INSERT INTO jobs ({_COLUMNS}, payload)
        SELECT {_COLUMNS}, payload FROM kit_jobs
        WHERE kind IN ('rne_import', 'accrual_campaign', 'expiry_run')
          AND status IN ('pending', 'running', 'succeeded', 'failed') AND created_by IS NOT NULL
        """
    )
