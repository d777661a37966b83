"""Crediting campaign benchmark: 600,000 élus credited for a year, every ``rights_credited`` event on Kafka.

Run: ``uv run python bench/ledger_campaign.py [--elus N]`` (``make bench BENCH=ledger_campaign``).
Target (issue 17): ≤ 40 s end to end, from the POST to the last event acknowledged by Kafka. The registry
is set up beforehand (not measured) with generated French names and plausible mandates: every élu holds a
municipal mandate since 2020, some also a communautaire or a départemental one, a tenth already has 500 €
and is capped.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_average, write_result
from ledger_support import FAMILY_NAMES, GIVEN_NAMES, Bench, fresh_bench, wait_job

SETUP = (
    """
    INSERT INTO elus (elu_id, family_name, given_names, family_key, given_key, birth_date, sex)
    SELECT ledger_new_id(), f, g, upper(f), upper(g), date '1940-01-01' + i % 21900,
           CASE WHEN i % 2 = 0 THEN 'F' ELSE 'M' END
    FROM (SELECT i, ($1::text[])[1 + (i / 21900) % array_length($1, 1)] AS f,
                 ($2::text[])[1 + (i::bigint * 7919) % array_length($2, 1)] AS g
          FROM generate_series(0, $3 - 1) i) names
    """,
    """
    INSERT INTO accounts (elu_id, status, cap_cents, balance_cents)
    SELECT elu_id, CASE WHEN random() < 0.6 THEN 'active' ELSE 'inactive' END, 80000,
           CASE WHEN random() < 0.1 THEN 50000 ELSE 0 END
    FROM elus
    """,
    """
    INSERT INTO mandates (mandate_id, elu_id, file_type, family, collectivite_code, collectivite_name,
                          function, start_date)
    SELECT ledger_new_id(), elu_id, 'cm', 'municipal', lpad((1001 + (random() * 95000)::int)::text, 5, '0'),
           'Commune', '', date '2020-06-28' FROM elus
    """,
    """
    INSERT INTO mandates (mandate_id, elu_id, file_type, family, collectivite_code, collectivite_name,
                          function, start_date)
    SELECT ledger_new_id(), elu_id, 'epci', 'communautaire', '200069193', 'CC de la Dombes', '',
           date '2020-07-10' FROM elus WHERE random() < 0.15
    """,
    """
    INSERT INTO mandates (mandate_id, elu_id, file_type, family, collectivite_code, collectivite_name,
                          function, start_date)
    SELECT ledger_new_id(), elu_id, 'cd', 'departmental', '69', 'Rhône', '', date '2021-07-01'
    FROM elus WHERE random() < 0.05
    """,
    "ANALYZE",
)


async def setup(bench: Bench, elus: int) -> None:
    connection = await asyncpg.connect(bench.database_url.replace("+asyncpg", ""))
    try:
        families, given = sorted(set(FAMILY_NAMES)), sorted(set(GIVEN_NAMES))
        await connection.execute(SETUP[0], families, given, elus)
        for statement in SETUP[1:]:
            await connection.execute(statement)
    finally:
        await connection.close()


async def events_on_kafka(bootstrap: str, topic: str) -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
        ends = await consumer.end_offsets([TopicPartition(topic, p) for p in partitions])
        return sum(ends.values())
    finally:
        await consumer.stop()


async def main(elus: int) -> None:
    async with fresh_bench() as bench:
        await setup(bench, elus)
        agent = bench.headers("agent")
        async with bench.client() as client:
            load = load_average()
            started = time.perf_counter()
            response = await client.post(
                "/v1/accrual-campaigns", json={"family": "municipal", "year": 2026}, headers=agent
            )
            assert response.status_code == 202, response.text
            job = await wait_job(client, f"/v1/accrual-campaigns/{response.json()['id']}", agent)
            credited_s = time.perf_counter() - started
            assert job["status"] == "succeeded", job
            left_at_credited = await bench.outbox_backlog()
            while await bench.outbox_backlog() > 0:
                await asyncio.sleep(0.05)
            published_s = time.perf_counter() - started
            on_kafka = await events_on_kafka(
                bench.settings.kafka_bootstrap_servers, bench.settings.topic("dife.ledger.events")
            )
    report = job["report"]
    assert isinstance(report, dict)
    write_result(
        "ledger_campaign",
        {
            "elus": elus,
            "credited": report["credited"],
            "capped": report["capped"],
            "total_cents": report["total_cents"],
            "credited_s": round(credited_s, 2),
            "end_to_end_s": round(published_s, 2),
            "outbox_left_at_credited": left_at_credited,
            "drain_after_credited_s": round(published_s - credited_s, 2),
            "events_on_kafka": on_kafka,
            "events_per_s": round(on_kafka / published_s),
            "target_s": 40,
            "load_average_before": load,
        },
        {
            "family": "municipal",
            "year": 2026,
            "chunk_elus": bench.settings.campaign_chunk_elus,
            "relay_batch_size": bench.settings.relay_batch_size,
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--elus", type=int, default=600_000)
    asyncio.run(main(parser.parse_args().elus))
