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
    """Built once the kit's pools exist: the search's own pools (see ``SqlOfferIndex``), closed last."""
    dsn, size = plain_url(kit.settings.database_url), kit.settings.database_pool_size
    text_pool = await open_search_pool(dsn, max_size=size, generic_plans=True)
    try:
        other_pool = await open_search_pool(dsn, max_size=size)
        try:
            yield CatalogueState(offer_index=SqlOfferIndex(text_pool, other_pool))
        finally:
            await other_pool.close()
    finally:
        await text_pool.close()


def catalogue_of(request: Request) -> CatalogueState:
    """The state, read directly by the search (the hot path): a dependency would cost a thread hop."""
    state = kit_state(request.app).service
    if not isinstance(state, CatalogueState):
        raise RuntimeError(f"the app's service state is {type(state).__name__}, not CatalogueState")
    return state
