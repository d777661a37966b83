"""Indexes for every list order (issue 9): each filter a list offers is served by an index in that list's order.

- an organisme's list with a status: (siret, status, submitted_at, dossier_id);
- an agent's list, all or by status: (submitted_at, dossier_id) and (status, submitted_at, dossier_id);
- the public list (R-PUB-1) by département or by SIRET: partial indexes on the financed statuses in
  training-start order, beside `dossiers_financed_public` (by year).

The list statements name the financed statuses as literals, exactly as these predicates do, so that the
planner can use the partial indexes even in a prepared statement's generic plan.

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

FINANCED = (
    "status IN ('accepted', 'in_training', 'completed', 'service_done_declared', "
    "'service_done_validated', 'paid')"
)

INDEXES = {
    "dossiers_by_siret_status": "(siret, status, submitted_at, dossier_id)",
    "dossiers_by_status": "(status, submitted_at, dossier_id)",
    "dossiers_by_submission": "(submitted_at, dossier_id)",
    "dossiers_financed_by_department": f"(department, training_start, dossier_id) WHERE {FINANCED}",
    "dossiers_financed_by_siret": f"(siret, training_start, dossier_id) WHERE {FINANCED}",
}


def upgrade() -> None:
    for name, definition in INDEXES.items():
        op.execute(f"CREATE INDEX {name} ON dossiers {definition}")


def downgrade() -> None:
    for name in INDEXES:
        op.execute(f"DROP INDEX {name}")
