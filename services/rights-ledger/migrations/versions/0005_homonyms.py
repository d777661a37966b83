"""R-ACT-1, homonyms: two persons with the same names and birth date are two élus, told apart by the commune of
their municipal mandate (``homonym_key``; empty while an identity is one person).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("""ALTER TABLE elus ADD COLUMN homonym_key text COLLATE "C" NOT NULL DEFAULT ''""")
    op.execute("ALTER TABLE elus DROP CONSTRAINT elus_person_key")
    op.execute(
        "ALTER TABLE elus ADD CONSTRAINT elus_person_key UNIQUE (family_key, given_key, birth_date, homonym_key)"
    )


def downgrade() -> None:
    op.execute("ALTER TABLE elus DROP CONSTRAINT elus_person_key")
    op.execute("ALTER TABLE elus ADD CONSTRAINT elus_person_key UNIQUE (family_key, given_key, birth_date)")
    op.execute("ALTER TABLE elus DROP COLUMN homonym_key")
