"""The catalogue's own typed state beside servicekit's (``create_service_app(service_state=...)``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from fastapi import Request
from servicekit.db import plain_url
from servicekit.state import KitState, kit_state

from catalogue.adapters.search import SqlOfferIndex, open_search_pool


@dataclass(frozen=True)
class CatalogueState:
    offer_index: SqlOfferIndex


@asynccontextmanager
async def catalogue_state(kit: KitState) -> AsyncIterator[CatalogueState]:
    """Built once the kit's pools exist: the search's own pool (see ``open_search_pool``), closed last."""
    settings = kit.settings
    pool = await open_search_pool(plain_url(settings.database_url), max_size=settings.database_pool_size)
    try:
        yield CatalogueState(offer_index=SqlOfferIndex(pool))
    finally:
        await pool.close()


def catalogue_of(request: Request) -> CatalogueState:
    """The state, read directly by the search (the hot path): a dependency would cost a thread hop."""
    state = kit_state(request.app).service
    if not isinstance(state, CatalogueState):
        raise RuntimeError(f"the app's service state is {type(state).__name__}, not CatalogueState")
    return state
