"""The hand-written migration and the SQLAlchemy tables the repositories use describe the same schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from funding.adapters.tables import metadata
from servicekit.db import make_engine
from servicekit.tables import KIT_TABLE_NAMES
from servicekit.testing import migrate

ALEMBIC_INI = Path(__file__).resolve().parents[2] / "alembic.ini"


def _differences(connection: Any) -> list[Any]:
    context = MigrationContext.configure(
        connection,
        opts={
            "compare_type": True,
            "include_object": lambda obj, name, type_, reflected, compare_to: (
                not (type_ == "table" and name in KIT_TABLE_NAMES)
            ),
        },
    )
    return list(compare_metadata(context, metadata))


async def test_the_migration_creates_exactly_the_tables_the_repositories_use(fresh_database_url: str) -> None:
    await migrate(ALEMBIC_INI, fresh_database_url)
    engine = make_engine(fresh_database_url)
    try:
        async with engine.connect() as connection:
            differences = await connection.run_sync(_differences)
    finally:
        await engine.dispose()
    assert differences == []
