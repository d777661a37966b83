"""Funding's tables (SQLAlchemy Core). Invariants live here as CHECK constraints and unique keys as well as in
the domain: an envelope never reserves more than its budget, an élu never more than the per-élu ceiling, a
dossier asks one envelope once, a provider notification counts once."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Table,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB, UUID

metadata = MetaData()

plans = Table(
    "plans",
    metadata,
    Column("dossier_id", UUID(as_uuid=True), primary_key=True),
    Column("elu_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("siret", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("training_start", Date, nullable=False),
    Column("training_end", Date, nullable=False),
    Column("acceptance_deadline", Date, nullable=False),
    Column("theme_code", Text),
    Column("status", Text, nullable=False),
    Column("lines", JSONB, nullable=False),
    Column("hold_attempts", Integer, nullable=False),
    Column("failure_reason", Text),
    Column("version", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("price_cents > 0", name="plans_price_positive"),
    CheckConstraint("status IN ('proposed', 'ready', 'failed', 'closed')", name="plans_status"),
)

dife_balances = Table(
    "dife_balances",
    metadata,
    Column("elu_id", UUID(as_uuid=True), primary_key=True),
    Column("available_cents", BigInteger, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("available_cents >= 0", name="dife_balances_not_negative"),
)

elu_mandates = Table(
    "elu_mandates",
    metadata,
    Column("elu_id", UUID(as_uuid=True), primary_key=True),
    Column("mandates", JSONB, nullable=False),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

envelopes = Table(
    "cofunding_envelopes",
    metadata,
    Column("envelope_id", UUID(as_uuid=True), primary_key=True),
    Column("siren", Text, nullable=False),
    Column("collectivite_code", Text, nullable=False),
    Column("deliberation_reference", Text, nullable=False),
    Column("deliberation_date", Date, nullable=False),
    Column("budget_cents", BigInteger, nullable=False),
    Column("per_elu_ceiling_cents", BigInteger, nullable=False),
    Column("valid_from", Date, nullable=False),
    Column("valid_until", Date, nullable=False),
    Column("decision_mode", Text, nullable=False),
    Column("themes", JSONB, nullable=False),
    Column("status", Text, nullable=False),
    Column("reserved_cents", BigInteger, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("reserved_cents >= 0 AND reserved_cents <= budget_cents", name="envelopes_within_budget"),
    CheckConstraint(
        "per_elu_ceiling_cents > 0 AND per_elu_ceiling_cents <= budget_cents", name="envelopes_ceiling"
    ),
    Index("envelopes_by_code", "collectivite_code", "status"),
    Index("envelopes_by_siren", "siren", "created_at", "envelope_id"),
)

envelope_elu_reservations = Table(
    "envelope_elu_reservations",
    metadata,
    Column(
        "envelope_id", UUID(as_uuid=True), ForeignKey("cofunding_envelopes.envelope_id"), primary_key=True
    ),
    Column("elu_id", UUID(as_uuid=True), primary_key=True),
    Column("ceiling_cents", BigInteger, nullable=False),
    Column("reserved_cents", BigInteger, nullable=False),
    CheckConstraint("reserved_cents >= 0 AND reserved_cents <= ceiling_cents", name="elu_within_ceiling"),
)

cofunding_requests = Table(
    "cofunding_requests",
    metadata,
    Column("request_id", UUID(as_uuid=True), primary_key=True),
    Column("envelope_id", UUID(as_uuid=True), ForeignKey("cofunding_envelopes.envelope_id"), nullable=False),
    Column("dossier_id", UUID(as_uuid=True), nullable=False),
    Column("elu_id", UUID(as_uuid=True), nullable=False),
    Column("siren", Text, nullable=False),
    Column("requested_cents", BigInteger, nullable=False),
    Column("granted_cents", BigInteger),
    Column("status", Text, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("decided_at", DateTime(timezone=True)),
    UniqueConstraint("envelope_id", "dossier_id", name="one_request_per_envelope_and_dossier"),
    CheckConstraint("requested_cents > 0", name="requests_positive"),
    CheckConstraint(
        "status IN ('pending', 'approved', 'refused', 'released', 'consumed')", name="requests_status"
    ),
    Index("requests_by_siren", "siren", "status", "created_at", "request_id"),
)

collectivite_codes = Table(
    "collectivite_codes",
    metadata,
    Column("collectivite_code", Text, primary_key=True),
    Column("siren", Text, nullable=False),
    Column("registered_by", Text, nullable=False),
    Column("registered_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("collectivite_codes_by_siren", "siren"),
)

payment_intents = Table(
    "payment_intents",
    metadata,
    Column("intent_id", UUID(as_uuid=True), primary_key=True),
    Column("dossier_id", UUID(as_uuid=True), nullable=False, index=True),
    Column("elu_id", UUID(as_uuid=True), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("status", Text, nullable=False),
    Column("provider_reference", Text),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("amount_cents > 0", name="intents_positive"),
    CheckConstraint("status IN ('pending', 'confirmed', 'superseded')", name="intents_status"),
)

psp_notifications = Table(
    "psp_notifications",
    metadata,
    Column("notification_id", Text, primary_key=True),
    Column("intent_id", UUID(as_uuid=True), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)
