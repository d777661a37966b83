"""Typed references and a value date on every journal entry (issue 8, outside clients).

Beside ``at`` (when the ledger recorded it) each movement carries ``value_date``, the Paris legal date it takes
effect: the campaign's date for a credit (R-ACC-3), the run's ``as_of`` for an expiry (R-END-1), the Paris
date of ``at`` otherwise. Nothing is ever dated after the day it is recorded. Typed references replace
parsing ``reference``: ``campaign_year``/``campaign_family`` (credit), ``hold_id``/``dossier_id`` (hold,
capture, release), ``adjustment_id`` (adjustment).

Existing rows are backfilled from what they already say: a credit's ``reference`` is ``campaign <family>
<year>`` and its value date the ``credited_on`` of that year's credit; an expiry's is ``expiry run
<as_of>``; a hold movement's is its dossier id; an old adjustment is its own adjustment (``adjustment_id`` =
the movement's id). The journal is append-only: its trigger is disabled for the backfill only, in this
migration's transaction.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

PARIS_DAY_OF_AT = "(at AT TIME ZONE 'Europe/Paris')::date"

BACKFILL = [
    f"UPDATE movements SET value_date = {PARIS_DAY_OF_AT}",
    """
    UPDATE movements SET campaign_family = split_part(reference, ' ', 2),
                         campaign_year = split_part(reference, ' ', 3)::integer
    WHERE kind = 'credit' AND reference ~ '^campaign (municipal|other) [0-9]{4}$'
    """,
    """
    UPDATE movements m SET value_date = c.credited_on
    FROM credits c
    WHERE m.kind = 'credit' AND c.elu_id = m.elu_id AND c.year = m.campaign_year
      AND c.credited_on <= m.value_date
    """,
    """
    UPDATE movements SET value_date = substr(reference, 12)::date
    WHERE kind = 'expiry' AND reference ~ '^expiry run [0-9]{4}-[0-9]{2}-[0-9]{2}$'
      AND substr(reference, 12)::date <= value_date
    """,
    """
    UPDATE movements m SET dossier_id = h.dossier_id
    FROM holds h
    WHERE m.kind IN ('hold', 'capture', 'release') AND h.hold_id = m.hold_id
    """,
    "UPDATE movements SET adjustment_id = id WHERE kind = 'adjustment'",
]

CONSTRAINTS = {
    "movements_value_date_not_after_recording": f"value_date <= {PARIS_DAY_OF_AT}",
    "movements_credit_names_its_campaign": (
        "kind <> 'credit' OR (campaign_year IS NOT NULL AND campaign_family IN ('municipal', 'other'))"
    ),
    "movements_hold_names_its_hold_and_dossier": (
        "kind NOT IN ('hold', 'capture', 'release') OR (hold_id IS NOT NULL AND dossier_id IS NOT NULL)"
    ),
    "movements_adjustment_names_its_adjustment": "kind <> 'adjustment' OR adjustment_id IS NOT NULL",
}


def upgrade() -> None:
    op.execute(
        "ALTER TABLE movements ADD COLUMN value_date date, ADD COLUMN campaign_year integer, "
        "ADD COLUMN campaign_family text, ADD COLUMN dossier_id uuid, ADD COLUMN adjustment_id uuid"
    )
    op.execute("ALTER TABLE movements DISABLE TRIGGER movements_append_only")
    for statement in BACKFILL:
        op.execute(statement)
    op.execute("ALTER TABLE movements ENABLE TRIGGER movements_append_only")
    op.execute("ALTER TABLE movements ALTER COLUMN value_date SET NOT NULL")
    for name, check in CONSTRAINTS.items():
        op.execute(f"ALTER TABLE movements ADD CONSTRAINT {name} CHECK ({check})")


def downgrade() -> None:
    for name in CONSTRAINTS:
        op.execute(f"ALTER TABLE movements DROP CONSTRAINT {name}")
    op.execute(
        "ALTER TABLE movements DROP COLUMN value_date, DROP COLUMN campaign_year, DROP COLUMN campaign_family, "
        "DROP COLUMN dossier_id, DROP COLUMN adjustment_id"
    )
