"""R-ACT-1: the audit of activations revoked by an agent.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        """
        CREATE TABLE activation_revocations (
            revocation_id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            elu_id uuid NOT NULL REFERENCES accounts (elu_id),
            subject text NOT NULL,
            reason text NOT NULL CHECK (length(reason) BETWEEN 3 AND 500),
            revoked_by text NOT NULL,
            revoked_at timestamptz NOT NULL
        )
        """
    )
    op.execute("CREATE INDEX activation_revocations_by_elu ON activation_revocations (elu_id)")


def downgrade() -> None:
    op.execute("DROP TABLE activation_revocations")
