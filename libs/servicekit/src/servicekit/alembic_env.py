"""The body of every service's ``migrations/env.py``: async engine, kit tables ignored by autogenerate."""

from __future__ import annotations

import asyncio
import os
from typing import Any

from alembic import context
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from servicekit.tables import KIT_TABLE_NAMES


def _include_object(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
    return not (type_ == "table" and name in KIT_TABLE_NAMES)


def run(target_metadata: MetaData, *, url_env: str) -> None:
    """Run migrations against the URL set by `upgrade_to_head`, or else the service's ``url_env`` variable."""
    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get(url_env)
    if not url:
        raise SystemExit(f"No database URL: set {url_env} (postgresql+asyncpg://…)")
    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "include_object": _include_object,
        "compare_type": True,
    }
    if context.is_offline_mode():
        context.configure(url=url, literal_binds=True, **options)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, **options)
        with context.begin_transaction():
            context.run_migrations()

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(migrate)
        await engine.dispose()

    asyncio.run(run_async())
