"""Schemathesis over the ledger's own OpenAPI, served for real (servicekit.testing.fuzz): no 5xx, no answer
outside its documented schema or content type, whatever the input."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from typing import Any

from rights_ledger.app import create_app
from rights_ledger.settings import Settings
from servicekit.clock import MovableClock
from servicekit.testing.fuzz import fuzz, serve

from .conftest import DUPONT_CLAIMS, NIR_KEY


async def test_the_api_answers_every_generated_request_without_5xx_or_schema_violation(
    ledger_db: str, kit_overrides: Callable[[str], dict[str, Any]], mint_token: Callable[..., str]
) -> None:
    settings = Settings(
        **kit_overrides(ledger_db), nir_hmac_key=NIR_KEY, consumers_enabled=False, jobs_enabled=False
    )
    app = create_app(settings, clock=MovableClock())
    elu = {"Authorization": f"Bearer {mint_token(sub=str(uuid.uuid4()), roles=['elu'], **DUPONT_CLAIMS)}"}
    agent = {"Authorization": f"Bearer {mint_token(sub='agent-1', roles=['agent'])}"}

    def headers(method: str, path: str) -> dict[str, str]:
        return elu if path == "/v1/accounts/activation" else agent

    def run() -> list[str]:
        with serve(app) as base_url:
            return [str(finding) for finding in fuzz(base_url, headers=headers, max_examples=10)]

    assert await asyncio.to_thread(run) == []
