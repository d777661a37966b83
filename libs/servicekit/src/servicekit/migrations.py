"""Alembic helpers: the kit tables for a service's first revision, and running a service's migrations."""

from __future__ import annotations

from pathlib import Path

from alembic import command, op
from alembic.config import Config

from servicekit.tables import OUTBOX_NOTIFY_DDL, OUTBOX_NOTIFY_DROP_DDL, kit_jobs, kit_metadata


def create_kit_tables() -> None:
    """Create outbox, inbox, idempotency-key and job tables: call from a service's first revision."""
    bind = op.get_bind()
    kit_metadata.create_all(bind, checkfirst=True)
    for statement in OUTBOX_NOTIFY_DDL:
        op.execute(statement)


def add_outbox_lanes() -> None:
    """For a database whose kit tables predate lanes (`create_kit_tables` now creates them): call from a
    service's new revision's upgrade()."""
    op.execute("ALTER TABLE outbox ADD COLUMN IF NOT EXISTS lane smallint NOT NULL DEFAULT 0")
    op.execute("CREATE INDEX IF NOT EXISTS outbox_interactive ON outbox (id) WHERE lane = 0")
    op.execute("CREATE INDEX IF NOT EXISTS outbox_subject ON outbox (ce_subject)")


def create_job_tables() -> None:
    """Create `kit_jobs` where an older database lacks it (services born before servicekit.jobs)."""
    kit_jobs.create(op.get_bind(), checkfirst=True)


def drop_kit_tables() -> None:
    """Reverse of `create_kit_tables`, for the first revision's downgrade()."""
    for statement in OUTBOX_NOTIFY_DROP_DDL:
        op.execute(statement)
    kit_metadata.drop_all(op.get_bind(), checkfirst=True)


def alembic_config(alembic_ini: str | Path, database_url: str) -> Config:
    config = Config(str(alembic_ini))
    config.set_main_option("script_location", str(Path(alembic_ini).resolve().parent / "migrations"))
    # '%' is ConfigParser's interpolation character; a password may contain it.
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    return config


def upgrade_to_head(alembic_ini: str | Path, database_url: str) -> None:
    """Run a service's migrations up to head (blocking; call from a thread inside an event loop)."""
    command.upgrade(alembic_config(alembic_ini, database_url), "head")
