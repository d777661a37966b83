"""Contributions schema: kit tables (outbox, inbox, idempotency keys, jobs), collectivités, calendars, periods,
declarations and their lines, bank statements and credits, payments.

Revision ID: 0001
Revises:
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from servicekit.migrations import create_kit_tables, drop_kit_tables


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    create_kit_tables()
    op.create_table('bank_statements',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('statement_key', sa.Text(), nullable=False),
    sa.Column('imported_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('imported_by', sa.Text(), nullable=False),
    sa.Column('credit_count', sa.Integer(), nullable=False),
    sa.Column('matched_count', sa.Integer(), nullable=False),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('statement_key')
    )
    op.create_table('collectivites',
    sa.Column('siren', sa.Text(), nullable=False),
    sa.Column('name', sa.Text(), nullable=False),
    sa.Column('type', sa.Text(), nullable=False),
    sa.Column('registered_on', sa.Date(), nullable=False),
    sa.Column('reference_annual_cents', sa.BigInteger(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint("siren ~ '^[0-9]{9}$'", name='collectivites_siren_shape'),
    sa.CheckConstraint('reference_annual_cents >= 0', name='collectivites_reference_not_negative'),
    sa.PrimaryKeyConstraint('siren')
    )
    op.create_table('bank_credits',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('statement_id', sa.Uuid(), nullable=False),
    sa.Column('entry_key', sa.Text(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('booked_on', sa.Date(), nullable=False),
    sa.Column('reference', sa.Text(), nullable=True),
    sa.Column('remittance', sa.Text(), nullable=False),
    sa.Column('debtor_name', sa.Text(), nullable=True),
    sa.Column('siren', sa.Text(), nullable=True),
    sa.Column('period', sa.Text(), nullable=True),
    sa.Column('matched_by', sa.Text(), nullable=True),
    sa.Column('unmatched_reason', sa.Text(), nullable=True),
    sa.Column('assigned_by', sa.Text(), nullable=True),
    sa.CheckConstraint('amount_cents > 0', name='bank_credits_positive'),
    sa.ForeignKeyConstraint(['statement_id'], ['bank_statements.id'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('entry_key')
    )
    op.create_index('bank_credits_unmatched', 'bank_credits', ['booked_on', 'id'], unique=False, postgresql_where='period IS NULL')
    op.create_table('calendars',
    sa.Column('siren', sa.Text(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('periodicity', sa.Text(), nullable=False),
    sa.Column('basis_cents', sa.BigInteger(), nullable=False),
    sa.Column('fixed_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.ForeignKeyConstraint(['siren'], ['collectivites.siren'], ),
    sa.PrimaryKeyConstraint('siren', 'year')
    )
    op.create_table('periods',
    sa.Column('siren', sa.Text(), nullable=False),
    sa.Column('period', sa.Text(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('periodicity', sa.Text(), nullable=False),
    sa.Column('due_date', sa.Date(), nullable=False),
    sa.Column('declared_cents', sa.BigInteger(), nullable=True),
    sa.Column('paid_cents', sa.BigInteger(), server_default='0', nullable=False),
    sa.Column('status', sa.Text(), nullable=False),
    sa.Column('late_notified', sa.Boolean(), server_default='false', nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('declared_cents >= 0', name='periods_declared_not_negative'),
    sa.CheckConstraint('paid_cents >= 0', name='periods_paid_not_negative'),
    sa.ForeignKeyConstraint(['siren'], ['collectivites.siren'], ),
    sa.PrimaryKeyConstraint('siren', 'period')
    )
    op.create_index('periods_by_status', 'periods', ['status', 'due_date', 'siren', 'period'], unique=False)
    op.create_index('periods_open_by_due_date', 'periods', ['due_date'], unique=False, postgresql_where="status IN ('due', 'partially_paid')")
    op.create_table('declarations',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('siren', sa.Text(), nullable=False),
    sa.Column('period', sa.Text(), nullable=False),
    sa.Column('version', sa.Integer(), nullable=False),
    sa.Column('periodicity', sa.Text(), nullable=False),
    sa.Column('line_count', sa.Integer(), nullable=False),
    sa.Column('allowances_cents', sa.BigInteger(), nullable=False),
    sa.Column('contribution_cents', sa.BigInteger(), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_by', sa.Text(), nullable=False),
    sa.CheckConstraint('version >= 1', name='declarations_version_positive'),
    sa.ForeignKeyConstraint(['siren', 'period'], ['periods.siren', 'periods.period'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('siren', 'period', 'version', name='declarations_one_version_per_period')
    )
    op.create_table('payments',
    sa.Column('id', sa.Uuid(), nullable=False),
    sa.Column('siren', sa.Text(), nullable=False),
    sa.Column('period', sa.Text(), nullable=False),
    sa.Column('amount_cents', sa.BigInteger(), nullable=False),
    sa.Column('received_on', sa.Date(), nullable=False),
    sa.Column('source', sa.Text(), nullable=False),
    sa.Column('bank_credit_id', sa.Uuid(), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), server_default=sa.text('now()'), nullable=False),
    sa.CheckConstraint('amount_cents > 0', name='payments_positive'),
    sa.ForeignKeyConstraint(['bank_credit_id'], ['bank_credits.id'], ),
    sa.ForeignKeyConstraint(['siren', 'period'], ['periods.siren', 'periods.period'], ),
    sa.PrimaryKeyConstraint('id'),
    sa.UniqueConstraint('bank_credit_id')
    )
    op.create_table('declaration_lines',
    sa.Column('declaration_id', sa.Uuid(), nullable=False),
    sa.Column('line_number', sa.Integer(), nullable=False),
    sa.Column('month', sa.Date(), nullable=False),
    sa.Column('family_name', sa.Text(), nullable=True),
    sa.Column('given_names', sa.Text(), nullable=True),
    sa.Column('birth_date', sa.Date(), nullable=True),
    sa.Column('elu_id', sa.Uuid(), nullable=True),
    sa.Column('gross_allowance_cents', sa.BigInteger(), nullable=False),
    sa.Column('contribution_cents', sa.BigInteger(), nullable=False),
    sa.ForeignKeyConstraint(['declaration_id'], ['declarations.id'], ),
    sa.PrimaryKeyConstraint('declaration_id', 'line_number')
    )


def downgrade() -> None:
    op.drop_table('declaration_lines')
    op.drop_table('payments')
    op.drop_table('declarations')
    op.drop_index('periods_open_by_due_date', table_name='periods', postgresql_where="status IN ('due', 'partially_paid')")
    op.drop_index('periods_by_status', table_name='periods')
    op.drop_table('periods')
    op.drop_table('calendars')
    op.drop_index('bank_credits_unmatched', table_name='bank_credits', postgresql_where='period IS NULL')
    op.drop_table('bank_credits')
    op.drop_table('collectivites')
    op.drop_table('bank_statements')
    drop_kit_tables()
