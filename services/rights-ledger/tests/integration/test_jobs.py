"""Long jobs are restartable: a job left running by a dead process is taken up again (R-ACC-1, R-REG-2)."""

from __future__ import annotations

import json
import uuid

from rights_ledger.app import create_app
from rights_ledger.settings import Settings
from servicekit.testing import running_app
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from .conftest import CM_HEADER, cm_row, csv_file, run_campaign, wait_job


async def test_jobs_left_running_by_a_dead_process_are_run_again_and_credit_once_R_ACC_1_R_REG_2(
    settings: Settings, agent: dict[str, str], sessionmaker: async_sessionmaker[AsyncSession]
) -> None:
    import_id, campaign_id = uuid.uuid4(), uuid.uuid4()
    async with sessionmaker.begin() as session:
        await session.execute(
            text(
                "INSERT INTO kit_jobs (job_id, kind, status, params, payload, created_by, created_at) VALUES "
                "(:i, 'rne_import', 'running', :ip, :file, 'agent', now() - interval '1 minute'),"
                "(:c, 'accrual_campaign', 'running', :cp, NULL, 'agent', now())"
            ),
            {
                "i": import_id,
                "ip": json.dumps({"file_type": "cm", "snapshot_date": "2026-01-15"}),
                "file": csv_file(CM_HEADER, cm_row("ROUX", "Anne", "02/02/1972")),
                "c": campaign_id,
                "cp": json.dumps({"family": "municipal", "year": 2026}),
            },
        )
    async with running_app(create_app(settings)) as client:
        imported = await wait_job(client, f"/v1/registry/imports/{import_id}", agent)
        credited = await wait_job(client, f"/v1/accrual-campaigns/{campaign_id}", agent)
        # Imports and campaigns have a worker each: the restarted campaign may have run before the import
        # merged; running it again credits whoever it missed, and nobody twice.
        again = await run_campaign(client, agent, "municipal", 2026)
    assert (imported["status"], imported["report"]["elus_created"]) == ("succeeded", 1)
    assert (credited["status"], again["status"]) == ("succeeded", "succeeded")
    assert credited["report"]["credited"] + again["report"]["credited"] == 1
    async with sessionmaker() as session:
        balance = await session.scalar(text("SELECT sum(balance_cents) FROM accounts"))
        assert balance == 40_000
        payload = await session.scalar(
            text("SELECT payload FROM kit_jobs WHERE job_id = :i"), {"i": import_id}
        )
    assert payload is None
