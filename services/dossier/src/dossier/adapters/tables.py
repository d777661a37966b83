"""SQLAlchemy Core tables of the dossier service (the migrations create them; tests never `create_all`).

Invariants live here as well as in `domain/`: a status is one of the EDOF statuses, a percent is 0–100, a
rating 1–5, a session's seats taken never negative, at most one open control per dossier.
"""

from __future__ import annotations

from dife_contracts.enums import DossierStatus
from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    MetaData,
    Numeric,
    SmallInteger,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

_STATUSES = ", ".join(f"'{status.value}'" for status in DossierStatus)
FINANCED_SQL = (
    "status IN ('accepted', 'in_training', 'completed', 'service_done_declared', "
    "'service_done_validated', 'paid')"
)

dossiers = Table(
    "dossiers",
    metadata,
    Column("dossier_id", Uuid, primary_key=True),
    Column("elu_id", Uuid, nullable=False),
    Column("offer_id", Uuid, nullable=False),
    Column("session_id", Uuid, nullable=False),
    Column("siret", Text, nullable=False),
    Column("purpose", Text, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("hours", Numeric(6, 2), nullable=False),
    Column("training_start", Date, nullable=False),
    Column("training_end", Date, nullable=False),
    Column("offer_title", Text, nullable=False),
    Column("theme_code", Text),
    Column("organisme_name", Text),
    Column("department", Text),
    Column("status", Text, nullable=False),
    Column("submitted_at", DateTime(timezone=True), nullable=False),
    Column("answer_by", Date, nullable=False),
    Column("accept_by", Date),
    Column("entry_on", Date),
    Column("entry_declared_late", Boolean, nullable=False, server_default=text("false")),
    Column("exit_on", Date),
    Column("exit_declared_late", Boolean, nullable=False, server_default=text("false")),
    Column("hours_attended", Numeric(6, 2)),
    Column("realisation_percent", SmallInteger),
    Column("service_done_declared_on", Date),
    Column("auto_validation_on", Date),
    Column("open_control_id", Uuid),
    Column("plan", JSONB, comment="the funding plan as funding last published it"),
    Column("evaluation", JSONB),
    Column("rights_consumed", Boolean),
    Column("amount_paid_cents", BigInteger, nullable=False, server_default=text("0")),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint(f"status IN ({_STATUSES})", name="dossier_status_known"),
    CheckConstraint("price_cents >= 0 AND amount_paid_cents >= 0", name="dossier_money_not_negative"),
    CheckConstraint("realisation_percent BETWEEN 0 AND 100", name="dossier_percent_0_100_R_DOS_3"),
    CheckConstraint("training_end >= training_start", name="dossier_training_dates_in_order"),
    Index("dossiers_by_siret", "siret", "submitted_at", "dossier_id"),
    Index("dossiers_by_elu", "elu_id", "submitted_at", "dossier_id"),
    Index("dossiers_by_session_live", "session_id"),
    Index(
        "dossiers_financed_public",
        "training_start",
        "dossier_id",
        postgresql_where=text(FINANCED_SQL),
    ),
    # migration 0002: an index in each list's order for every filter it offers (issue 9)
    Index("dossiers_by_siret_status", "siret", "status", "submitted_at", "dossier_id"),
    Index("dossiers_by_status", "status", "submitted_at", "dossier_id"),
    Index("dossiers_by_submission", "submitted_at", "dossier_id"),
    Index(
        "dossiers_financed_by_department",
        "department",
        "training_start",
        "dossier_id",
        postgresql_where=text(FINANCED_SQL),
    ),
    Index(
        "dossiers_financed_by_siret",
        "siret",
        "training_start",
        "dossier_id",
        postgresql_where=text(FINANCED_SQL),
    ),
)

dossier_transitions = Table(
    "dossier_transitions",
    metadata,
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("dossier_id", Uuid, ForeignKey("dossiers.dossier_id"), nullable=False),
    Column("at", DateTime(timezone=True), nullable=False),
    Column("action", Text, nullable=False),
    Column("from_status", Text),
    Column("to_status", Text, nullable=False),
    Column("actor_role", Text, nullable=False),
    Column("actor_subject", Text, nullable=False),
    Column("reason", Text),
    Column("event_type", Text, comment="CloudEvents type of the event the transition produced"),
    Index("dossier_transitions_by_dossier", "dossier_id", "id"),
)

controls = Table(
    "controls",
    metadata,
    Column("control_id", Uuid, primary_key=True),
    Column("dossier_id", Uuid, ForeignKey("dossiers.dossier_id"), nullable=False),
    Column("kind", Text, nullable=False),
    Column("reason", Text, nullable=False),
    Column("status", Text, nullable=False),
    Column("opened_by", Text, nullable=False),
    Column("opened_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", Text),
    Column("decided_at", DateTime(timezone=True)),
    Column("decision_reason", Text),
    CheckConstraint("kind IN ('quality', 'fraud')", name="control_kind_known"),
    CheckConstraint("status IN ('open', 'validated', 'rejected')", name="control_status_known"),
    Index(
        "one_open_control_per_dossier_R_DOS_4",
        "dossier_id",
        unique=True,
        postgresql_where=text("status = 'open'"),
    ),
    Index("controls_by_status", "status", "opened_at", "control_id"),
)

# ---- read models of other contexts (fed by their events) ---------------------------------------------

elus = Table(
    "elus",
    metadata,
    Column("elu_id", Uuid, primary_key=True),
    Column("family_name", Text, nullable=False, server_default=""),
    Column("given_names", Text, nullable=False, server_default=""),
    Column("account_active", Boolean, nullable=False, server_default=text("false")),
    Column("mandates", JSONB, nullable=False, server_default=text("'[]'::jsonb")),
    Column("pension_liquidated_on", Date),
)

organismes = Table(
    "organismes",
    metadata,
    Column("siret", Text, primary_key=True),
    Column("name", Text, nullable=False),
)

offers = Table(
    "offers",
    metadata,
    Column("offer_id", Uuid, primary_key=True),
    Column("siret", Text, nullable=False),
    Column("kind", Text, nullable=False),
    Column("title", Text, nullable=False),
    Column("theme_code", Text),
    Column("hours", Numeric(6, 2), nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("department", Text),
    Column("published", Boolean, nullable=False),
    Column("published_at", DateTime(timezone=True), nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("session_id", Uuid, primary_key=True),
    Column("offer_id", Uuid, ForeignKey("offers.offer_id"), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date, nullable=False),
    Column("capacity", Integer, nullable=False),
    Column(
        "seats_taken",
        Integer,
        nullable=False,
        server_default=text("0"),
        comment="this service's own live enrolments (R-OFR-4), changed only by conditional UPDATEs",
    ),
    Column("cancelled", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("seats_taken >= 0", name="session_seats_not_negative"),
)
