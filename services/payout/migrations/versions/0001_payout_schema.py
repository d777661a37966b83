"""Payout schema: kit tables (outbox, inbox, idempotency keys, jobs), bank details (IBAN encrypted, four
eyes), plans and dossier outcomes, payments (settled ≤ due), plan shares, SEPA batches and their transfers
(one live transfer per payment), status reports, and the fund's read models (contributions, DIFE holds).

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.migrations import create_kit_tables, drop_kit_tables
from sqlalchemy.dialects import postgresql

revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_kit_tables()
    op.create_table('bank_details',
    sa.Column('details_id', sa.Uuid(), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=False),
    sa.Column('iban_ciphertext', sa.LargeBinary(), nullable=False),
    sa.Column('iban_fingerprint', sa.String(length=64), nullable=False),
    sa.Column('iban_masked', sa.String(length=64), nullable=False),
    sa.Column('bic', sa.String(length=11), nullable=False),
    sa.Column('holder_name', sa.String(length=70), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('entered_by', sa.Text(), nullable=False),
    sa.Column('entered_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('decided_by', sa.Text(), nullable=True),
    sa.Column('decided_at', sa.DateTime(timezone=True), nullable=True),
    sa.CheckConstraint("status IN ('pending', 'verified', 'refused', 'superseded')", name='bank_details_status'),
    sa.CheckConstraint("status NOT IN ('verified', 'refused') OR (decided_by IS NOT NULL AND decided_by <> entered_by)", name='bank_details_four_eyes'),
    sa.PrimaryKeyConstraint('details_id')
    )
    op.create_index('bank_details_one_pending', 'bank_details', ['siret'], unique=True, postgresql_where=sa.text("status = 'pending'"))
    op.create_index('bank_details_one_verified', 'bank_details', ['siret'], unique=True, postgresql_where=sa.text("status = 'verified'"))
    op.create_table('batches',
    sa.Column('batch_id', sa.Uuid(), nullable=False),
    sa.Column('message_id', sa.String(length=35), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('execution_date', sa.Date(), nullable=False),
    sa.Column('released_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('payment_count', sa.Integer(), nullable=False),
    sa.Column('total_cents', sa.BigInteger(), nullable=False),
    sa.Column('file_ciphertext', sa.LargeBinary(), nullable=False),
    sa.CheckConstraint("status IN ('built', 'released')", name='batch_status'),
    sa.PrimaryKeyConstraint('batch_id'),
    sa.UniqueConstraint('message_id')
    )
    op.create_index('batches_by_created', 'batches', [sa.literal_column('created_at DESC'), 'batch_id'], unique=False)
    op.create_table('contributions_received',
    sa.Column('payment_id', sa.Uuid(), nullable=False),
    sa.Column('siren', sa.String(length=9), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.PrimaryKeyConstraint('payment_id')
    )
    op.create_index('contributions_by_day', 'contributions_received', ['received_on'], unique=False)
    op.create_table('dife_holds',
    sa.Column('hold_id', sa.Uuid(), nullable=False),
    sa.Column('dossier_id', sa.Uuid(), nullable=False),
    sa.Column('elu_id', sa.Uuid(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('placed_on', sa.Date(), nullable=False),
    sa.Column('resolved_on', sa.Date(), nullable=True),
    sa.Column('captured_cents', sa.BigInteger(), nullable=True),
    sa.Column('released_cents', sa.BigInteger(), nullable=True),
    sa.PrimaryKeyConstraint('hold_id')
    )
    op.create_table('dossier_outcomes',
    sa.Column('dossier_id', sa.Uuid(), nullable=False),
    sa.Column('elu_id', sa.Uuid(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=True),
    sa.Column('price_cents', sa.BigInteger(), nullable=True),
    sa.Column('realisation_percent', sa.Integer(), nullable=True),
    sa.Column('validated_on', sa.Date(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('resolved', sa.Boolean(), server_default=sa.text('false'), nullable=False),
    sa.CheckConstraint("kind IN ('service_done', 'late_cancellation')", name='outcome_kind'),
    sa.PrimaryKeyConstraint('dossier_id')
    )
    op.create_table('payments',
    sa.Column('payment_id', sa.Uuid(), nullable=False),
    sa.Column('dossier_id', sa.Uuid(), nullable=False),
    sa.Column('elu_id', sa.Uuid(), nullable=False),
    sa.Column('siret', sa.String(length=14), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('realisation_percent', sa.Integer(), nullable=False),
    sa.Column('validated_on', sa.Date(), nullable=False),
    sa.Column('deadline', sa.Date(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=True),
    sa.Column('bank_details_id', sa.Uuid(), nullable=True),
    sa.Column('end_to_end_id', sa.String(length=35), nullable=True),
    sa.Column('settled_cents', sa.BigInteger(), nullable=False),
    sa.Column('settled_on', sa.Date(), nullable=True),
    sa.Column('rejection_reason', sa.String(length=4), nullable=True),
    sa.Column('rejected_on', sa.Date(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint("(status = 'settled') = (settled_cents = amount_cents AND settled_on IS NOT NULL)", name='settled_is_whole'),
    sa.CheckConstraint("status IN ('due', 'batched', 'sent', 'settled', 'rejected')", name='payment_status'),
    sa.CheckConstraint('amount_cents >= 0', name='payment_amount'),
    sa.CheckConstraint('realisation_percent BETWEEN 0 AND 100', name='payment_percent'),
    sa.CheckConstraint('settled_cents >= 0 AND settled_cents <= amount_cents', name='settled_at_most_due'),
    sa.PrimaryKeyConstraint('payment_id'),
    sa.UniqueConstraint('dossier_id')
    )
    op.create_index('payments_by_siret', 'payments', ['siret', 'created_at'], unique=False)
    op.create_index('payments_open_by_deadline', 'payments', ['deadline'], unique=False, postgresql_where=sa.text("status <> 'settled'"))
    op.create_table('plan_shares',
    sa.Column('dossier_id', sa.Uuid(), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.Column('planned_cents', sa.BigInteger(), nullable=False),
    sa.Column('drawn_cents', sa.BigInteger(), nullable=False),
    sa.Column('refund_id', sa.Uuid(), nullable=True),
    sa.CheckConstraint('drawn_cents >= 0 AND drawn_cents <= planned_cents', name='share_drawn'),
    sa.PrimaryKeyConstraint('dossier_id', 'position')
    )
    op.create_table('plans',
    sa.Column('dossier_id', sa.Uuid(), nullable=False),
    sa.Column('elu_id', sa.Uuid(), nullable=False),
    sa.Column('price_cents', sa.BigInteger(), nullable=False),
    sa.Column('lines', postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('dossier_id')
    )
    op.create_table('batch_transfers',
    sa.Column('end_to_end_id', sa.String(length=35), nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=False),
    sa.Column('payment_id', sa.Uuid(), nullable=False),
    sa.Column('dossier_id', sa.Uuid(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('bank_details_id', sa.Uuid(), nullable=False),
    sa.Column('outcome', sa.String(length=16), nullable=False),
    sa.Column('reason_code', sa.String(length=4), nullable=True),
    sa.CheckConstraint("outcome IN ('pending', 'accepted', 'rejected')", name='transfer_outcome'),
    sa.CheckConstraint('amount_cents > 0', name='transfer_amount'),
    sa.ForeignKeyConstraint(['bank_details_id'], ['bank_details.details_id'], ),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.batch_id'], ),
    sa.ForeignKeyConstraint(['payment_id'], ['payments.payment_id'], ),
    sa.PrimaryKeyConstraint('end_to_end_id')
    )
    op.create_index('transfers_by_batch', 'batch_transfers', ['batch_id'], unique=False)
    op.create_index('transfers_one_live_per_payment', 'batch_transfers', ['payment_id'], unique=True, postgresql_where=sa.text("outcome <> 'rejected'"))
    op.create_table('status_reports',
    sa.Column('report_id', sa.Uuid(), nullable=False),
    sa.Column('batch_id', sa.Uuid(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('sha256', sa.String(length=64), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('rejected', sa.Integer(), nullable=False),
    sa.Column('unchanged', sa.Integer(), nullable=False),
    sa.Column('unknown', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['batch_id'], ['batches.batch_id'], ),
    sa.PrimaryKeyConstraint('report_id')
    )


def downgrade() -> None:
    op.drop_table('status_reports')
    op.drop_index('transfers_one_live_per_payment', table_name='batch_transfers', postgresql_where=sa.text("outcome <> 'rejected'"))
    op.drop_index('transfers_by_batch', table_name='batch_transfers')
    op.drop_table('batch_transfers')
    op.drop_table('plans')
    op.drop_table('plan_shares')
    op.drop_index('payments_open_by_deadline', table_name='payments', postgresql_where=sa.text("status <> 'settled'"))
    op.drop_index('payments_by_siret', table_name='payments')
    op.drop_table('payments')
    op.drop_table('dossier_outcomes')
    op.drop_table('dife_holds')
    op.drop_index('contributions_by_day', table_name='contributions_received')
    op.drop_table('contributions_received')
    op.drop_index('batches_by_created', table_name='batches')
    op.drop_table('batches')
    op.drop_index('bank_details_one_verified', table_name='bank_details', postgresql_where=sa.text("status = 'verified'"))
    op.drop_index('bank_details_one_pending', table_name='bank_details', postgresql_where=sa.text("status = 'pending'"))
    op.drop_table('bank_details')
    drop_kit_tables()
