"""Plan every statement of the catalogue for its parameters (no generic plans for prepared statements).

The driver prepares statements, and after five runs PostgreSQL may keep a generic plan, blind to the values:
for the search, where the selectivity of the text and of each filter decides the plan, it was three times
slower. The other queries are primary-key lookups, for which custom planning costs nothing noticeable.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET plan_cache_mode = force_custom_plan', "
        "current_database()); END $$"
    )


def downgrade() -> None:
    op.execute(
        "DO $$ BEGIN EXECUTE format('ALTER DATABASE %I RESET plan_cache_mode', current_database()); END $$"
    )
