"""FastAPI dependencies every router uses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.pagination import Page, PageParams
from servicekit.state import kit_state

__all__ = ["Page", "PageParams", "SessionDep"]


async def _transactional_session(request: Request) -> AsyncIterator[AsyncSession]:
    async with kit_state(request.app).sessionmaker.begin() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_transactional_session, scope="function")]
"""A session in a transaction that commits when the endpoint returns, *before* the response is sent
(``scope="function"``), and rolls back if it raises: the request owns the transaction; use cases never
commit."""
