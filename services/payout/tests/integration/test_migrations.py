"""The Alembic history is the schema: after `upgrade head` the database matches `adapters/tables.py`."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from payout.adapters.tables import metadata
from servicekit.testing import migrate
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from .conftest import ALEMBIC_INI


async def test_migrations_create_exactly_the_declared_tables(fresh_database_url: str) -> None:
    await migrate(ALEMBIC_INI, fresh_database_url)
    engine = create_async_engine(fresh_database_url)

    def differences(connection: Connection) -> list[object]:
        context = MigrationContext.configure(
            connection,
            opts={"include_name": lambda name, type_, parent: type_ != "table" or name in metadata.tables},
        )
        return list(compare_metadata(context, metadata))

    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(differences) == []
    finally:
        await engine.dispose()
