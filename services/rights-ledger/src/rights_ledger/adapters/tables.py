"""SQLAlchemy Core view of the ledger's tables; the schema itself is the Alembic history (``migrations/``)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Date, DateTime, Integer, LargeBinary, MetaData, Table, Text, Uuid

metadata = MetaData()

elus = Table(
    "elus",
    metadata,
    Column("elu_id", Uuid, primary_key=True),
    Column("family_name", Text, nullable=False),
    Column("given_names", Text, nullable=False),
    Column("family_key", Text, nullable=False),
    Column("given_key", Text, nullable=False),
    Column("birth_date", Date, nullable=False),
    Column("sex", Text, nullable=False),
    Column("homonym_key", Text, nullable=False),
    Column("pension_liquidated_on", Date),
    Column("created_at", DateTime(timezone=True)),
)

mandates = Table(
    "mandates",
    metadata,
    Column("mandate_id", Uuid, primary_key=True),
    Column("elu_id", Uuid, nullable=False),
    Column("file_type", Text, nullable=False),
    Column("family", Text, nullable=False),
    Column("collectivite_code", Text, nullable=False),
    Column("collectivite_name", Text, nullable=False),
    Column("department_code", Text, nullable=False),
    Column("function", Text, nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("updated_at", DateTime(timezone=True)),
)

accounts = Table(
    "accounts",
    metadata,
    Column("elu_id", Uuid, primary_key=True),
    Column("status", Text, nullable=False),
    Column("subject", Text),
    Column("nir_hash", Text),
    Column("balance_cents", BigInteger, nullable=False),
    Column("held_cents", BigInteger, nullable=False),
    Column("cap_cents", BigInteger, nullable=False),
    Column("activated_at", DateTime(timezone=True)),
    Column("updated_at", DateTime(timezone=True)),
)

movements = Table(
    "movements",
    metadata,
    Column("seq", BigInteger, primary_key=True),
    Column("id", Uuid, nullable=False),
    Column("elu_id", Uuid, nullable=False),
    Column("kind", Text, nullable=False),
    Column("counterparty", Text, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("balance_delta_cents", BigInteger, nullable=False),
    Column("held_delta_cents", BigInteger, nullable=False),
    Column("balance_after_cents", BigInteger, nullable=False),
    Column("held_after_cents", BigInteger, nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("value_date", Date, nullable=False),
    Column("reference", Text),
    Column("hold_id", Uuid),
    Column("dossier_id", Uuid),
    Column("campaign_year", Integer),
    Column("campaign_family", Text),
    Column("adjustment_id", Uuid),
    Column("actor", Text),
)

credits = Table(
    "credits",
    metadata,
    Column("elu_id", Uuid, primary_key=True),
    Column("year", Integer, primary_key=True),
    Column("campaign_id", Uuid, nullable=False),
    Column("family", Text, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("credited_on", Date, nullable=False),
)

holds = Table(
    "holds",
    metadata,
    Column("hold_id", Uuid, primary_key=True),
    Column("elu_id", Uuid, nullable=False),
    Column("dossier_id", Uuid, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("training_start", Date, nullable=False),
    Column("training_end", Date, nullable=False),
    Column("status", Text, nullable=False),
    Column("captured_cents", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True)),
    Column("resolved_at", DateTime(timezone=True)),
)

hold_resolutions = Table(
    "hold_resolutions",
    metadata,
    Column("hold_id", Uuid, primary_key=True),
    Column("outcome", Text, nullable=False),
    Column("captured_cents", BigInteger, nullable=False),
    Column("released_cents", BigInteger, nullable=False),
    Column("resolved_at", DateTime(timezone=True)),
)

activation_revocations = Table(
    "activation_revocations",
    metadata,
    Column("revocation_id", BigInteger, primary_key=True),
    Column("elu_id", Uuid, nullable=False),
    Column("subject", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("revoked_by", Text, nullable=False),
    Column("revoked_at", DateTime(timezone=True), nullable=False),
)

hold_rejections = Table(
    "hold_rejections",
    metadata,
    Column("rejection_id", BigInteger, primary_key=True),
    Column("elu_id", Uuid, nullable=False),
    Column("dossier_id", Uuid, nullable=False),
    Column("requested_cents", BigInteger, nullable=False),
    Column("reason", Text, nullable=False),
    Column("detail", Text, nullable=False),
    Column("rejected_at", DateTime(timezone=True)),
)

rne_upload_chunks = Table(
    "rne_upload_chunks",
    metadata,
    Column("upload_id", Uuid, primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("chunk", LargeBinary, nullable=False),
)
