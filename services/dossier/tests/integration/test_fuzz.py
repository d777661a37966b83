"""Schemathesis over the service's own OpenAPI, served for real (servicekit.testing.fuzz): no 5xx, no answer
outside its documented schema or content type, whatever the input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from dossier.app import create_app
from dossier.settings import Settings
from servicekit.clock import MovableClock
from servicekit.testing import migrate
from servicekit.testing.fuzz import fuzz, serve

from .conftest import ALEMBIC_INI

ELU_ROUTES = ("/acceptance", "/evaluation", "/refusal", "/cancellation")
OF_ROUTES = ("/validation", "/entry", "/exit", "/no-show")


async def test_the_api_answers_every_generated_request_without_5xx_or_schema_violation(
    database_factory: Callable[[], Awaitable[str]],
    kit_overrides: Callable[[str], dict[str, Any]],
    mint_token: Callable[..., str],
) -> None:
    database_url = await database_factory()
    await migrate(ALEMBIC_INI, database_url)
    settings = Settings(**kit_overrides(database_url), consumers_enabled=False, jobs_enabled=False)
    app = create_app(settings, clock=MovableClock())
    elu = {"Authorization": f"Bearer {mint_token(sub=str(uuid.uuid4()), roles=['elu'])}"}
    organisme = {
        "Authorization": f"Bearer {mint_token(sub='of-user', roles=['organisme'], siret='12345678900011')}"
    }
    agent = {"Authorization": f"Bearer {mint_token(sub='agent-1', roles=['agent'])}"}

    def headers(method: str, path: str) -> dict[str, str]:
        if method == "POST" and (path == "/v1/dossiers" or path.endswith(ELU_ROUTES)):
            return elu
        if method == "POST" and path.endswith(OF_ROUTES):
            return organisme
        return agent

    def run() -> list[str]:
        with serve(app) as base_url:
            return [str(finding) for finding in fuzz(base_url, headers=headers, max_examples=10)]

    assert await asyncio.to_thread(run) == []
