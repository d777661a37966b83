"""The payout schema (SQLAlchemy Core). Migrations create it; invariants are enforced here as well as in
the domain: settled ≤ due, four eyes on bank details, one live transfer per payment, one payment per dossier.

IBANs are stored encrypted (AES-GCM, `vault.py`) with a keyed fingerprint for equality and a masked form for
display; no column holds an IBAN in clear, and neither does the stored pain.001 file (encrypted too).
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
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    Uuid,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

metadata = MetaData()

bank_details = Table(
    "bank_details",
    metadata,
    Column("details_id", Uuid, primary_key=True),
    Column("siret", String(14), nullable=False),
    Column("iban_ciphertext", LargeBinary, nullable=False),
    Column("iban_fingerprint", String(64), nullable=False),
    Column("iban_masked", String(64), nullable=False),
    Column("bic", String(11), nullable=False),
    Column("holder_name", String(70), nullable=False),
    Column("status", String(16), nullable=False),
    Column("entered_by", Text, nullable=False),
    Column("entered_at", DateTime(timezone=True), nullable=False),
    Column("decided_by", Text),
    Column("decided_at", DateTime(timezone=True)),
    CheckConstraint("status IN ('pending', 'verified', 'refused', 'superseded')", name="bank_details_status"),
    CheckConstraint(
        "status NOT IN ('verified', 'refused') OR (decided_by IS NOT NULL AND decided_by <> entered_by)",
        name="bank_details_four_eyes",
    ),
)
Index(
    "bank_details_one_verified",
    bank_details.c.siret,
    unique=True,
    postgresql_where=text("status = 'verified'"),
)
Index(
    "bank_details_one_pending",
    bank_details.c.siret,
    unique=True,
    postgresql_where=text("status = 'pending'"),
)

plans = Table(
    "plans",
    metadata,
    Column("dossier_id", Uuid, primary_key=True),
    Column("elu_id", Uuid, nullable=False),
    Column("price_cents", BigInteger, nullable=False),
    Column("lines", JSONB, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
)

outcomes = Table(
    "dossier_outcomes",
    metadata,
    Column("dossier_id", Uuid, primary_key=True),
    Column("elu_id", Uuid, nullable=False),
    Column("kind", String(24), nullable=False),
    Column("siret", String(14)),
    Column("price_cents", BigInteger),
    Column("realisation_percent", Integer),
    Column("validated_on", Date),
    Column("recorded_at", DateTime(timezone=True), nullable=False),
    Column("resolved", Boolean, nullable=False, server_default=text("false")),
    CheckConstraint("kind IN ('service_done', 'late_cancellation')", name="outcome_kind"),
)

payments = Table(
    "payments",
    metadata,
    Column("payment_id", Uuid, primary_key=True),
    Column("dossier_id", Uuid, nullable=False, unique=True),
    Column("elu_id", Uuid, nullable=False),
    Column("siret", String(14), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("realisation_percent", Integer, nullable=False),
    Column("validated_on", Date, nullable=False),
    Column("deadline", Date, nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("batch_id", Uuid),
    Column("bank_details_id", Uuid),
    Column("end_to_end_id", String(35)),
    Column("settled_cents", BigInteger, nullable=False),
    Column("settled_on", Date),
    Column("rejection_reason", String(4)),
    Column("rejected_on", Date),
    Column("created_at", DateTime(timezone=True), nullable=False),
    CheckConstraint("amount_cents >= 0", name="payment_amount"),
    CheckConstraint("realisation_percent BETWEEN 0 AND 100", name="payment_percent"),
    CheckConstraint("settled_cents >= 0 AND settled_cents <= amount_cents", name="settled_at_most_due"),
    CheckConstraint(
        "(status = 'settled') = (settled_cents = amount_cents AND settled_on IS NOT NULL)",
        name="settled_is_whole",
    ),
    CheckConstraint("status IN ('due', 'batched', 'sent', 'settled', 'rejected')", name="payment_status"),
)
Index("payments_by_siret", payments.c.siret, payments.c.created_at)
Index("payments_open_by_deadline", payments.c.deadline, postgresql_where=text("status <> 'settled'"))

shares = Table(
    "plan_shares",
    metadata,
    Column("dossier_id", Uuid, primary_key=True),
    Column("position", Integer, primary_key=True),
    Column("source", String(16), nullable=False),
    Column("reference", Text),
    Column("planned_cents", BigInteger, nullable=False),
    Column("drawn_cents", BigInteger, nullable=False),
    Column("refund_id", Uuid),
    CheckConstraint("drawn_cents >= 0 AND drawn_cents <= planned_cents", name="share_drawn"),
)

batches = Table(
    "batches",
    metadata,
    Column("batch_id", Uuid, primary_key=True),
    Column("message_id", String(35), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    Column("execution_date", Date, nullable=False),
    Column("released_at", DateTime(timezone=True)),
    Column("payment_count", Integer, nullable=False),
    Column("total_cents", BigInteger, nullable=False),
    Column("file_ciphertext", LargeBinary, nullable=False),
    CheckConstraint("status IN ('built', 'released')", name="batch_status"),
)
Index("batches_by_created", batches.c.created_at.desc(), batches.c.batch_id)

transfers = Table(
    "batch_transfers",
    metadata,
    Column("end_to_end_id", String(35), primary_key=True),
    Column("batch_id", Uuid, ForeignKey("batches.batch_id"), nullable=False),
    Column("payment_id", Uuid, ForeignKey("payments.payment_id"), nullable=False),
    Column("dossier_id", Uuid, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("bank_details_id", Uuid, ForeignKey("bank_details.details_id"), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("reason_code", String(4)),
    CheckConstraint("amount_cents > 0", name="transfer_amount"),
    CheckConstraint("outcome IN ('pending', 'accepted', 'rejected')", name="transfer_outcome"),
)
Index("transfers_by_batch", transfers.c.batch_id)
Index(
    "transfers_one_live_per_payment",
    transfers.c.payment_id,
    unique=True,
    postgresql_where=text("outcome <> 'rejected'"),
)

status_reports = Table(
    "status_reports",
    metadata,
    Column("report_id", Uuid, primary_key=True),
    Column("batch_id", Uuid, ForeignKey("batches.batch_id"), nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("accepted", Integer, nullable=False),
    Column("rejected", Integer, nullable=False),
    Column("unchanged", Integer, nullable=False),
    Column("unknown", Integer, nullable=False),
)

contributions = Table(
    "contributions_received",
    metadata,
    Column("payment_id", Uuid, primary_key=True),
    Column("siren", String(9), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("received_on", Date, nullable=False),
)
Index("contributions_by_day", contributions.c.received_on)

holds = Table(
    "dife_holds",
    metadata,
    Column("hold_id", Uuid, primary_key=True),
    Column("dossier_id", Uuid, nullable=False),
    Column("elu_id", Uuid, nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("placed_on", Date, nullable=False),
    Column("resolved_on", Date),
    Column("captured_cents", BigInteger),
    Column("released_cents", BigInteger),
)
