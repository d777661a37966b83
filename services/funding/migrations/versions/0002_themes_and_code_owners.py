"""Plans keep the offer's theme (envelope themes, R-FUN-2); collectivité codes and the SIREN that owns each.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.execute("ALTER TABLE plans ADD COLUMN theme_code text")
    op.execute(
        """
        CREATE TABLE collectivite_codes (
            collectivite_code text PRIMARY KEY,
            siren text NOT NULL,
            registered_by text NOT NULL,
            registered_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX collectivite_codes_by_siren ON collectivite_codes (siren)")


def downgrade() -> None:
    op.execute("DROP TABLE collectivite_codes")
    op.execute("ALTER TABLE plans DROP COLUMN theme_code")
