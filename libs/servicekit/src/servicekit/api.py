"""FastAPI dependencies every router uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

import asyncpg
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.pagination import Page, PageDep, PageParams, page_params
from servicekit.state import kit_state

__all__ = ["Page", "PageDep", "PageParams", "ReadPoolDep", "SessionDep", "page_params"]


async def _transactional_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with kit_state(request.app).sessionmaker.begin() as session:
        yield session


async def _read_pool(request: Request) -> asyncpg.Pool:
    return kit_state(request.app).read_pool


ReadPoolDep = Annotated[asyncpg.Pool, Depends(_read_pool)]
"""The service's plain asyncpg pool (`servicekit.db.make_read_pool`) for hot read-only queries."""

SessionDep = Annotated[AsyncSession, Depends(_transactional_session, scope="function")]
"""A session in a transaction that commits when the endpoint returns, *before* the response is sent
(``scope="function"``), and rolls back if it raises: the request owns the transaction; use cases never
commit."""
