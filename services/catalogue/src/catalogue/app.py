"""Wiring of the catalogue: routers, the dossier-events consumer, servicekit's runtime."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI
from servicekit.app import create_service_app
from servicekit.db import plain_url
from servicekit.state import kit_state

from catalogue.api.offers import router as offers_router
from catalogue.api.organismes import router as organismes_router
from catalogue.api.search import SEARCH_POOL
from catalogue.api.search import router as search_router
from catalogue.api.themes import router as themes_router
from catalogue.consumers.dossier import consumer_spec
from catalogue.settings import Settings


def create_app(settings: Settings) -> FastAPI:
    @asynccontextmanager
    async def search_pool(app: FastAPI) -> AsyncIterator[None]:
        """The public search reads through a plain driver pool: no transaction, no ping per checkout."""
        pool = await asyncpg.create_pool(
            plain_url(settings.database_url), min_size=1, max_size=settings.database_pool_size
        )
        kit_state(app).extras[SEARCH_POOL] = pool
        try:
            yield
        finally:
            await pool.close()

    return create_service_app(
        settings,
        title="DIFE catalogue",
        description="Training organisations and their agréments, offers and sessions, national search.",
        routers=[themes_router, organismes_router, search_router, offers_router],
        consumers=[consumer_spec()],
        extra_lifespan=search_pool,
    )


def create_app_from_env() -> FastAPI:
    """For ``uvicorn --factory catalogue.app:create_app_from_env``: settings from ``CATALOGUE_*``."""
    return create_app(Settings())
