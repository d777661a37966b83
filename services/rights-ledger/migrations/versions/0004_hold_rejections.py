"""The holds funding asked for and the ledger refused, so an élu's front-end can show why (no Kafka needed).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE hold_rejections (
            rejection_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            elu_id uuid NOT NULL REFERENCES accounts (elu_id),
            dossier_id uuid NOT NULL,
            requested_cents bigint NOT NULL,
            reason text NOT NULL,
            detail text NOT NULL,
            rejected_at timestamptz NOT NULL DEFAULT now()
        )
        """
    )
    op.execute("CREATE INDEX hold_rejections_by_elu ON hold_rejections (elu_id, rejected_at)")


def downgrade() -> None:
    op.execute("DROP TABLE hold_rejections")
