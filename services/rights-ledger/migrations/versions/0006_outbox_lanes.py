"""Outbox lanes: interactive events are published before bulk ones (servicekit's relay; OUTBOX.md).

A database created before lanes has an outbox without the `lane` column; a new one already has it (the kit
tables of revision 0001): `add_outbox_lanes` adds what is missing and nothing else.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op
from servicekit.migrations import add_outbox_lanes

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_lanes()


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS outbox_subject")
    op.execute("DROP INDEX IF EXISTS outbox_interactive")
    op.execute("ALTER TABLE outbox DROP COLUMN IF EXISTS lane")
