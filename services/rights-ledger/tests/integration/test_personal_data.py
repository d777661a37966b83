"""R-REG-3: the NIR is nowhere in clear — not in any table, not on Kafka, not in the logs."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from rights_ledger.settings import Settings
from servicekit.testing import Infra, collect, read_to_end
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import CM_HEADER, DUPONT_CLAIMS, DUPONT_NIR, cm_row, csv_file, import_rne, run_campaign

NIR = DUPONT_NIR
FORMS = (NIR, "2 61 03 75 111 005 38", "2610375111005")
INVALID_NIR = "261037511100539"


async def test_the_nir_is_nowhere_in_clear_R_REG_3(
    client: httpx.AsyncClient,
    agent: dict[str, str],
    bearer: Callable[..., dict[str, str]],
    settings: Settings,
    infra: Infra,
    sessionmaker: async_sessionmaker[AsyncSession],
    capfd: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    await import_rne(client, agent, csv_file(CM_HEADER, cm_row("DUPONT", "Élise", "05/03/1961")))
    headers = bearer("elu", sub="fc-nir", **DUPONT_CLAIMS)
    refused = await client.post("/v1/accounts/activation", json={"nir": INVALID_NIR}, headers=headers)
    assert refused.status_code == 422
    malformed = await client.post("/v1/accounts/activation", json={"nir": "x" * 41}, headers=headers)
    assert malformed.status_code == 422
    activated = await client.post(
        "/v1/accounts/activation", json={"nir": " 2 61 03 75 111 005 38"}, headers=headers
    )
    assert activated.status_code == 200, activated.text
    again = await client.post("/v1/accounts/activation", json={"nir": NIR}, headers=headers)
    assert again.status_code == 200
    await run_campaign(client, agent, "municipal", 2026)
    for response in (refused, malformed, activated, again):
        assert not any(form in response.text for form in (*FORMS, INVALID_NIR))

    async with sessionmaker() as session:
        tables = (
            (await session.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")))
            .scalars()
            .all()
        )
        assert {"accounts", "elus", "movements", "kit_jobs", "outbox", "inbox"} <= set(tables)
        dump: list[str] = []
        for table in tables:
            rows = (await session.execute(text(f'SELECT t::text FROM "{table}" t'))).scalars().all()
            dump.extend(rows)
        digest = await session.scalar(text("SELECT nir_hash FROM accounts WHERE status = 'active'"))
    everything = "\n".join(dump)
    assert digest is not None and len(digest) == 64
    for form in (*FORMS, INVALID_NIR, NIR.encode().hex()):
        assert form not in everything

    activated = await collect(
        infra,
        settings.topic("dife.ledger.events"),
        count=1,
        timeout_s=60,
        where=lambda e: e.type == "dife.ledger.account_activated.v1",
    )
    assert activated, "the activation is on Kafka"
    events = await read_to_end(infra, settings.topic("dife.ledger.events"))
    for envelope in events:
        on_the_wire = envelope.data.decode() + repr(envelope.kafka_headers())
        assert not any(form in on_the_wire for form in (*FORMS, INVALID_NIR))

    captured = capfd.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "activation" in logs
    assert not any(form in logs for form in (*FORMS, INVALID_NIR))
