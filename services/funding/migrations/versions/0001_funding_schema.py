"""Funding schema: kit tables, plans, the balance and mandate read models, envelopes, requests, card payments.

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

SCHEMA = (
    """
    CREATE TABLE plans (
        dossier_id uuid PRIMARY KEY,
        elu_id uuid NOT NULL,
        siret text NOT NULL,
        purpose text NOT NULL,
        price_cents bigint NOT NULL CONSTRAINT plans_price_positive CHECK (price_cents > 0),
        training_start date NOT NULL,
        training_end date NOT NULL,
        acceptance_deadline date NOT NULL,
        status text NOT NULL
            CONSTRAINT plans_status CHECK (status IN ('proposed', 'ready', 'failed', 'closed')),
        lines jsonb NOT NULL,
        hold_attempts integer NOT NULL,
        failure_reason text,
        version integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX ix_plans_elu_id ON plans (elu_id)",
    """
    CREATE TABLE dife_balances (
        elu_id uuid PRIMARY KEY,
        available_cents bigint NOT NULL CONSTRAINT dife_balances_not_negative CHECK (available_cents >= 0),
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE elu_mandates (
        elu_id uuid PRIMARY KEY,
        mandates jsonb NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE cofunding_envelopes (
        envelope_id uuid PRIMARY KEY,
        siren text NOT NULL,
        collectivite_code text NOT NULL,
        deliberation_reference text NOT NULL,
        deliberation_date date NOT NULL,
        budget_cents bigint NOT NULL,
        per_elu_ceiling_cents bigint NOT NULL,
        valid_from date NOT NULL,
        valid_until date NOT NULL,
        decision_mode text NOT NULL,
        themes jsonb NOT NULL,
        status text NOT NULL,
        reserved_cents bigint NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        CONSTRAINT envelopes_within_budget CHECK (reserved_cents >= 0 AND reserved_cents <= budget_cents),
        CONSTRAINT envelopes_ceiling CHECK (per_elu_ceiling_cents > 0 AND per_elu_ceiling_cents <= budget_cents)
    )
    """,
    "CREATE INDEX envelopes_by_code ON cofunding_envelopes (collectivite_code, status)",
    "CREATE INDEX envelopes_by_siren ON cofunding_envelopes (siren, created_at, envelope_id)",
    """
    CREATE TABLE envelope_elu_reservations (
        envelope_id uuid NOT NULL REFERENCES cofunding_envelopes (envelope_id),
        elu_id uuid NOT NULL,
        ceiling_cents bigint NOT NULL,
        reserved_cents bigint NOT NULL,
        PRIMARY KEY (envelope_id, elu_id),
        CONSTRAINT elu_within_ceiling CHECK (reserved_cents >= 0 AND reserved_cents <= ceiling_cents)
    )
    """,
    """
    CREATE TABLE cofunding_requests (
        request_id uuid PRIMARY KEY,
        envelope_id uuid NOT NULL REFERENCES cofunding_envelopes (envelope_id),
        dossier_id uuid NOT NULL,
        elu_id uuid NOT NULL,
        siren text NOT NULL,
        requested_cents bigint NOT NULL CONSTRAINT requests_positive CHECK (requested_cents > 0),
        granted_cents bigint,
        status text NOT NULL CONSTRAINT requests_status
            CHECK (status IN ('pending', 'approved', 'refused', 'released', 'consumed')),
        created_at timestamptz NOT NULL DEFAULT now(),
        decided_at timestamptz,
        CONSTRAINT one_request_per_envelope_and_dossier UNIQUE (envelope_id, dossier_id)
    )
    """,
    "CREATE INDEX requests_by_siren ON cofunding_requests (siren, status, created_at, request_id)",
    """
    CREATE TABLE payment_intents (
        intent_id uuid PRIMARY KEY,
        dossier_id uuid NOT NULL,
        elu_id uuid NOT NULL,
        amount_cents bigint NOT NULL CONSTRAINT intents_positive CHECK (amount_cents > 0),
        status text NOT NULL CONSTRAINT intents_status CHECK (status IN ('pending', 'confirmed', 'superseded')),
        provider_reference text,
        created_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    "CREATE INDEX ix_payment_intents_dossier_id ON payment_intents (dossier_id)",
    """
    CREATE TABLE psp_notifications (
        notification_id text PRIMARY KEY,
        intent_id uuid NOT NULL,
        amount_cents bigint NOT NULL,
        received_at timestamptz NOT NULL DEFAULT now()
    )
    """,
)

TABLES = (
    "psp_notifications",
    "payment_intents",
    "cofunding_requests",
    "envelope_elu_reservations",
    "cofunding_envelopes",
    "elu_mandates",
    "dife_balances",
    "plans",
)


def upgrade() -> None:
    create_kit_tables()
    for statement in SCHEMA:
        op.execute(statement)


def downgrade() -> None:
    for table in TABLES:
        op.execute(f"DROP TABLE {table}")
    drop_kit_tables()
