"""Dossier schema: kit tables (outbox, inbox, idempotency keys), dossiers, transitions, controls, read models.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op
from servicekit.migrations import create_kit_tables, drop_kit_tables

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATEMENTS = (
    """
    CREATE TABLE dossiers (
        dossier_id UUID NOT NULL,
        elu_id UUID NOT NULL,
        offer_id UUID NOT NULL,
        session_id UUID NOT NULL,
        siret TEXT NOT NULL,
        purpose TEXT NOT NULL,
        price_cents BIGINT NOT NULL,
        hours NUMERIC(6, 2) NOT NULL,
        training_start DATE NOT NULL,
        training_end DATE NOT NULL,
        offer_title TEXT NOT NULL,
        theme_code TEXT,
        organisme_name TEXT,
        department TEXT,
        status TEXT NOT NULL,
        submitted_at TIMESTAMP WITH TIME ZONE NOT NULL,
        answer_by DATE NOT NULL,
        accept_by DATE,
        entry_on DATE,
        entry_declared_late BOOLEAN DEFAULT false NOT NULL,
        exit_on DATE,
        exit_declared_late BOOLEAN DEFAULT false NOT NULL,
        hours_attended NUMERIC(6, 2),
        realisation_percent SMALLINT,
        service_done_declared_on DATE,
        auto_validation_on DATE,
        open_control_id UUID,
        plan JSONB,
        evaluation JSONB,
        rights_consumed BOOLEAN,
        amount_paid_cents BIGINT DEFAULT 0 NOT NULL,
        updated_at TIMESTAMP WITH TIME ZONE DEFAULT now() NOT NULL,
        PRIMARY KEY (dossier_id),
        CONSTRAINT dossier_status_known CHECK (status IN ('submitted', 'validated', 'accepted', 'in_training', 'completed', 'service_done_declared', 'service_done_validated', 'paid', 'refused_by_organisme', 'refused_by_elu', 'cancelled_by_elu', 'cancelled_by_organisme', 'cancelled_by_financer', 'expired')),
        CONSTRAINT dossier_money_not_negative CHECK (price_cents >= 0 AND amount_paid_cents >= 0),
        CONSTRAINT "dossier_percent_0_100_R_DOS_3" CHECK (realisation_percent BETWEEN 0 AND 100),
        CONSTRAINT dossier_training_dates_in_order CHECK (training_end >= training_start)
    )
    """,
    """
    CREATE INDEX dossiers_by_session_live ON dossiers (session_id)
    """,
    """
    CREATE INDEX dossiers_by_elu ON dossiers (elu_id, submitted_at, dossier_id)
    """,
    """
    CREATE INDEX dossiers_by_siret ON dossiers (siret, submitted_at, dossier_id)
    """,
    """
    CREATE INDEX dossiers_financed_public ON dossiers (training_start, dossier_id) WHERE status IN ('accepted', 'in_training', 'completed', 'service_done_declared', 'service_done_validated', 'paid')
    """,
    """
    CREATE TABLE elus (
        elu_id UUID NOT NULL,
        family_name TEXT DEFAULT '' NOT NULL,
        given_names TEXT DEFAULT '' NOT NULL,
        account_active BOOLEAN DEFAULT false NOT NULL,
        mandates JSONB DEFAULT '[]'::jsonb NOT NULL,
        pension_liquidated_on DATE,
        PRIMARY KEY (elu_id)
    )
    """,
    """
    CREATE TABLE offers (
        offer_id UUID NOT NULL,
        siret TEXT NOT NULL,
        kind TEXT NOT NULL,
        title TEXT NOT NULL,
        theme_code TEXT,
        hours NUMERIC(6, 2) NOT NULL,
        price_cents BIGINT NOT NULL,
        department TEXT,
        published BOOLEAN NOT NULL,
        published_at TIMESTAMP WITH TIME ZONE NOT NULL,
        PRIMARY KEY (offer_id)
    )
    """,
    """
    CREATE TABLE organismes (
        siret TEXT NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (siret)
    )
    """,
    """
    CREATE TABLE controls (
        control_id UUID NOT NULL,
        dossier_id UUID NOT NULL,
        kind TEXT NOT NULL,
        reason TEXT NOT NULL,
        status TEXT NOT NULL,
        opened_by TEXT NOT NULL,
        opened_at TIMESTAMP WITH TIME ZONE NOT NULL,
        decided_by TEXT,
        decided_at TIMESTAMP WITH TIME ZONE,
        decision_reason TEXT,
        PRIMARY KEY (control_id),
        CONSTRAINT control_kind_known CHECK (kind IN ('quality', 'fraud')),
        CONSTRAINT control_status_known CHECK (status IN ('open', 'validated', 'rejected')),
        FOREIGN KEY(dossier_id) REFERENCES dossiers (dossier_id)
    )
    """,
    """
    CREATE INDEX controls_by_status ON controls (status, opened_at, control_id)
    """,
    """
    CREATE UNIQUE INDEX "one_open_control_per_dossier_R_DOS_4" ON controls (dossier_id) WHERE status = 'open'
    """,
    """
    CREATE TABLE dossier_transitions (
        id BIGINT GENERATED ALWAYS AS IDENTITY,
        dossier_id UUID NOT NULL,
        at TIMESTAMP WITH TIME ZONE NOT NULL,
        action TEXT NOT NULL,
        from_status TEXT,
        to_status TEXT NOT NULL,
        actor_role TEXT NOT NULL,
        actor_subject TEXT NOT NULL,
        reason TEXT,
        event_type TEXT,
        PRIMARY KEY (id),
        FOREIGN KEY(dossier_id) REFERENCES dossiers (dossier_id)
    )
    """,
    """
    CREATE INDEX dossier_transitions_by_dossier ON dossier_transitions (dossier_id, id)
    """,
    """
    CREATE TABLE sessions (
        session_id UUID NOT NULL,
        offer_id UUID NOT NULL,
        start_date DATE NOT NULL,
        end_date DATE NOT NULL,
        capacity INTEGER NOT NULL,
        seats_taken INTEGER DEFAULT 0 NOT NULL,
        cancelled BOOLEAN DEFAULT false NOT NULL,
        PRIMARY KEY (session_id),
        CONSTRAINT session_seats_not_negative CHECK (seats_taken >= 0),
        FOREIGN KEY(offer_id) REFERENCES offers (offer_id)
    )
    """,
)

TABLES = ("dossier_transitions", "controls", "dossiers", "sessions", "offers", "organismes", "elus")


def upgrade() -> None:
    create_kit_tables()
    for statement in STATEMENTS:
        op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE IF EXISTS {table}")
    drop_kit_tables()
