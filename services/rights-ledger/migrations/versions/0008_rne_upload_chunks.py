"""RNE uploads stored in chunks (issue 8: the import's memory stays bounded).

An uploaded RNE file is written here piece by piece as its request body streams in, and read back piece by
piece by the import job, so the ledger never holds a 50 MB file whole in memory (the job's ``payload`` column
held it, and both the request and the job loaded it at once). The job deletes its chunks when it ends: only
its report stays.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # STORAGE EXTERNAL: chunks are already compact text; no compression pass on the way in or out.
    op.execute(
        """
        CREATE TABLE rne_upload_chunks (
            upload_id uuid NOT NULL,
            seq integer NOT NULL CHECK (seq >= 0),
            chunk bytea NOT NULL,
            PRIMARY KEY (upload_id, seq)
        )
        """
    )
    op.execute("ALTER TABLE rne_upload_chunks ALTER COLUMN chunk SET STORAGE EXTERNAL")


def downgrade() -> None:
    op.execute("DROP TABLE IF EXISTS rne_upload_chunks")
