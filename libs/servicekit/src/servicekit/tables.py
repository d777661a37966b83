"""Tables servicekit owns inside every service's database: outbox, inbox, idempotency keys.

They are created by a service's first Alembic revision (`servicekit.migrations.create_kit_tables`), so each
service's schema history stays the single truth of its database.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Identity,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

kit_metadata = MetaData()

OUTBOX_NOTIFY_CHANNEL = "dife_outbox"
INTERACTIVE_LANE = 0
"""`enqueue`: one event of a request or a consumer (a hold answer, a dossier transition); relayed first."""
BULK_LANE = 1
"""`enqueue_many`, `insert_from_select_sql`: the events of an import or a campaign; relayed after."""

outbox = Table(
    "outbox",
    kit_metadata,
    # The id orders publication: the relay sends rows in id order and deletes them once Kafka acknowledged.
    Column("id", BigInteger, Identity(always=True), primary_key=True),
    Column("topic", Text, nullable=False, comment="logical topic (dife_contracts.topics)"),
    Column("ce_id", Uuid, nullable=False, unique=True),
    Column("ce_type", Text, nullable=False),
    Column("ce_source", Text, nullable=False),
    Column("ce_subject", Text, nullable=False, comment="aggregate id, also the Kafka key"),
    Column("ce_time", DateTime(timezone=True), nullable=False),
    Column("traceparent", Text, nullable=True),
    Column("payload", LargeBinary, nullable=False, comment="JSON bytes, the Kafka value"),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()),
    Column(
        "lane",
        SmallInteger,
        nullable=False,
        server_default=text(str(INTERACTIVE_LANE)),
        comment="0 interactive, 1 bulk: the relay serves interactive rows first (OUTBOX.md, Lanes)",
    ),
    # The relay finds the few interactive rows without walking a bulk backlog, and the bulk rows of an
    # interactive row's key, which it sends first to keep the key's order. Not partial on the bulk lane: the
    # planner would then scan it for "the oldest bulk rows" instead of walking the primary key in id order.
    Index("outbox_interactive", "id", postgresql_where=text(f"lane = {INTERACTIVE_LANE}")),
    Index("outbox_subject", "ce_subject"),
)

inbox = Table(
    "inbox",
    kit_metadata,
    Column("consumer_group", Text, nullable=False),
    Column("event_id", Uuid, nullable=False),
    Column("ce_type", Text, nullable=False),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    # The unique key is what makes a redelivered event a no-op (INSERT … ON CONFLICT DO NOTHING).
    PrimaryKeyConstraint("consumer_group", "event_id"),
)

idempotency_keys = Table(
    "idempotency_keys",
    kit_metadata,
    Column("principal", Text, nullable=False),
    Column("key", Text, nullable=False),
    Column("request_hash", Text, nullable=False),
    Column("status_code", Integer, nullable=True),
    Column("response", JSONB, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    PrimaryKeyConstraint("principal", "key"),
)

kit_jobs = Table(
    "kit_jobs",
    kit_metadata,
    Column("job_id", Uuid, primary_key=True),
    Column("kind", Text, nullable=False),
    Column("status", Text, nullable=False, comment="pending, running, succeeded, failed, cancelled"),
    Column("key", Text, nullable=True, comment="a timer's aggregate key: at most one pending job per key"),
    Column("run_after", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("params", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("payload", LargeBinary, nullable=True, comment="uploaded input; deleted when the job ends"),
    Column("rows_done", BigInteger, nullable=False, server_default=text("0")),
    Column("rows_total", BigInteger, nullable=False, server_default=text("0")),
    Column("report", JSONB, nullable=False, server_default=text("'{}'::jsonb")),
    Column("error", Text, nullable=True),
    Column("attempts", Integer, nullable=False, server_default=text("0")),
    Column("created_by", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.clock_timestamp()),
    Column("started_at", DateTime(timezone=True), nullable=True),
    Column("finished_at", DateTime(timezone=True), nullable=True),
    Index("kit_jobs_due", "kind", "run_after", postgresql_where=text("status = 'pending'")),
    Index("kit_jobs_pending_key", "key", unique=True, postgresql_where=text("status = 'pending'")),
    Index("kit_jobs_listing", "created_at", "job_id"),
)

KIT_TABLE_NAMES = frozenset(kit_metadata.tables)

# One NOTIFY per inserting statement (not per row) wakes the relay without slowing bulk inserts.
OUTBOX_NOTIFY_DDL = (
    f"""
    CREATE FUNCTION outbox_notify() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        PERFORM pg_notify('{OUTBOX_NOTIFY_CHANNEL}', '');
        RETURN NULL;
    END $$
    """,
    """
    CREATE TRIGGER outbox_notify AFTER INSERT ON outbox
    FOR EACH STATEMENT EXECUTE FUNCTION outbox_notify()
    """,
)
OUTBOX_NOTIFY_DROP_DDL = (
    "DROP TRIGGER IF EXISTS outbox_notify ON outbox",
    "DROP FUNCTION IF EXISTS outbox_notify()",
)
