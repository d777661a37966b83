"""Payout schema: kit tables, bank details, plans, outcomes, payments, shares, batches, transfers, status
reports, fund read models (contributions, DIFE holds).

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op
from servicekit.migrations import create_kit_tables, drop_kit_tables

from payout.adapters.tables import metadata

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_kit_tables()
    # The payout tables as declared in adapters/tables.py, frozen by this revision: later changes get their
    # own revision.
    metadata.create_all(op.get_bind())


def downgrade() -> None:
    metadata.drop_all(op.get_bind())
    drop_kit_tables()
