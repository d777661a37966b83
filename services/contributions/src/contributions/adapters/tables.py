"""The contributions tables, as the migrations create them (the migrations are the schema; this mirrors it).

Invariants are kept where the data lives as well as in `domain/`: one version number per period and
declaration (R-CON-4), positive payments, a bank credit recorded once across statements, a statement once.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    Uuid,
    func,
)

metadata = MetaData()

collectivites = Table(
    "collectivites",
    metadata,
    Column("siren", Text, primary_key=True),
    Column("name", Text, nullable=False),
    Column("type", Text, nullable=False),
    Column("registered_on", Date, nullable=False),
    Column("reference_annual_cents", BigInteger, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("siren ~ '^[0-9]{9}$'", name="collectivites_siren_shape"),
    CheckConstraint("reference_annual_cents >= 0", name="collectivites_reference_not_negative"),
)

calendars = Table(
    "calendars",
    metadata,
    Column("siren", Text, ForeignKey("collectivites.siren"), primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("periodicity", Text, nullable=False),
    Column("basis_cents", BigInteger, nullable=False),
    Column("fixed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
"""R-CON-3: the periodicity of a collectivité for one year, fixed the first time the year is used."""

periods = Table(
    "periods",
    metadata,
    Column("siren", Text, ForeignKey("collectivites.siren"), primary_key=True),
    Column("period", Text, primary_key=True),
    Column("year", Integer, nullable=False),
    Column("periodicity", Text, nullable=False),
    Column("due_date", Date, nullable=False),
    Column("declared_cents", BigInteger, nullable=True),
    Column("paid_cents", BigInteger, nullable=False, server_default="0"),
    Column("status", Text, nullable=False),
    Column("late_notified", Boolean, nullable=False, server_default="false"),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("declared_cents >= 0", name="periods_declared_not_negative"),
    CheckConstraint("paid_cents >= 0", name="periods_paid_not_negative"),
    Index("periods_by_status", "status", "due_date", "siren", "period"),
    Index("periods_open_by_due_date", "due_date", postgresql_where="status IN ('due', 'partially_paid')"),
)

declarations = Table(
    "declarations",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("siren", Text, nullable=False),
    Column("period", Text, nullable=False),
    Column("version", Integer, nullable=False),
    Column("periodicity", Text, nullable=False),
    Column("line_count", Integer, nullable=False),
    Column("allowances_cents", BigInteger, nullable=False),
    Column("contribution_cents", BigInteger, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("received_by", Text, nullable=False),
    UniqueConstraint("siren", "period", "version", name="declarations_one_version_per_period"),
    ForeignKeyConstraint(["siren", "period"], ["periods.siren", "periods.period"]),
    CheckConstraint("version >= 1", name="declarations_version_positive"),
)
"""R-CON-4: every version is kept; the current one is the highest."""

declaration_lines = Table(
    "declaration_lines",
    metadata,
    Column("declaration_id", Uuid, ForeignKey("declarations.id"), primary_key=True),
    Column("line_number", Integer, primary_key=True),
    Column("month", Date, nullable=False),
    Column("family_name", Text, nullable=True),
    Column("given_names", Text, nullable=True),
    Column("birth_date", Date, nullable=True),
    Column("elu_id", Uuid, nullable=True),
    Column("gross_allowance_cents", BigInteger, nullable=False),
    Column("contribution_cents", BigInteger, nullable=False),
)

bank_statements = Table(
    "bank_statements",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("statement_key", Text, nullable=False, unique=True),
    Column("imported_at", DateTime(timezone=True), nullable=False),
    Column("imported_by", Text, nullable=False),
    Column("credit_count", Integer, nullable=False),
    Column("matched_count", Integer, nullable=False),
)

bank_credits = Table(
    "bank_credits",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("statement_id", Uuid, ForeignKey("bank_statements.id"), nullable=False),
    Column("entry_key", Text, nullable=False, unique=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("booked_on", Date, nullable=False),
    Column("reference", Text, nullable=True),
    Column("remittance", Text, nullable=False),
    Column("debtor_name", Text, nullable=True),
    Column("siren", Text, nullable=True),
    Column("period", Text, nullable=True),
    Column("matched_by", Text, nullable=True),
    Column("unmatched_reason", Text, nullable=True),
    Column("assigned_by", Text, nullable=True),
    CheckConstraint("amount_cents > 0", name="bank_credits_positive"),
    Index("bank_credits_unmatched", "booked_on", "id", postgresql_where="period IS NULL"),
)

payments = Table(
    "payments",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("siren", Text, nullable=False),
    Column("period", Text, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("received_on", Date, nullable=False),
    Column("source", Text, nullable=False),
    Column("bank_credit_id", Uuid, ForeignKey("bank_credits.id"), nullable=True, unique=True),
    Column("recorded_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    ForeignKeyConstraint(["siren", "period"], ["periods.siren", "periods.period"]),
    CheckConstraint("amount_cents > 0", name="payments_positive"),
)
"""Append-only: a payment is never changed or deleted (R-CON-4)."""
