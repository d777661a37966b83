"""Lanes, measured where nothing else can blur them: the relay drains a bulk backlog in this process while a
writer commits interactive events one at a time; how long each waits from its commit until Kafka
acknowledged it (its outbox row is deleted only then).

Run: ``uv run python bench/relay_lanes.py [--bulk 200000 --batch-size 1000]``. The bulk rows are committed
at once with ``enqueue_many`` (bulk lane); the interactive ones are the rows ``enqueue`` writes (interactive
lane), each followed by polling for its row until it is gone. Also reported: the drain rate and the relay's
cycle time (fetch, send, acknowledgements, delete), which bounds what an interactive event waits: the cycle
in flight when it commits, then its own.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import latency_summary_ms, load_average, scratch_stack, write_result
from dife_contracts import topics
from relay import _INSERT_SQL, SCHEMA, SOURCE, event
from servicekit.db import make_engine, make_sessionmaker
from servicekit.kafka import ensure_topics, make_relay_producer
from servicekit.migrations import upgrade_to_head
from servicekit.outbox import enqueue_many
from servicekit.relay import OutboxRelay


async def fill(url: str, count: int) -> None:
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session, session.begin():
        for chunk in range(0, count, 10_000):
            await enqueue_many(session, [event() for _ in range(min(10_000, count - chunk))], source=SOURCE)
    await engine.dispose()


async def interactive_writer(dsn: str, latencies: list[float], stop: asyncio.Event) -> None:
    pool = await asyncpg.create_pool(dsn, min_size=2, max_size=2)
    try:
        while not stop.is_set():
            one, ce_id = event(), uuid.uuid4()
            row = (
                topics.LEDGER,
                ce_id,
                one.ce_type,
                SOURCE,
                one.aggregate_id(),
                datetime.now(UTC),
                one.to_json(),
            )
            await pool.execute(_INSERT_SQL, *row)
            committed = time.perf_counter()
            while await pool.fetchval("SELECT EXISTS (SELECT 1 FROM outbox WHERE ce_id = $1)", ce_id):
                if stop.is_set():  # committed after the relay's last batch: nobody will send it here
                    return
                await asyncio.sleep(0.002)
            latencies.append(time.perf_counter() - committed)
            await asyncio.sleep(0.01)
    finally:
        await pool.close()


async def main(args: argparse.Namespace) -> None:
    async with scratch_stack("lanes") as scratch:
        url, dsn = scratch.database_url, scratch.dsn
        prefix, bootstrap = scratch.topic_prefix, scratch.bootstrap
        await asyncio.to_thread(upgrade_to_head, SCHEMA, url)
        await ensure_topics(bootstrap, [prefix + topics.LEDGER], partitions=12)
        await fill(url, args.bulk)
        producer = make_relay_producer(bootstrap, client_id="bench-lanes")
        relay = OutboxRelay(
            dsn=dsn, producer=producer, service_name="bench", topic_prefix=prefix, batch_size=args.batch_size
        )
        connection = await asyncpg.connect(dsn)
        latencies: list[float] = []
        cycles: list[float] = []
        stop = asyncio.Event()
        load = load_average()
        writer = asyncio.create_task(interactive_writer(dsn, latencies, stop))
        started, total = time.perf_counter(), 0
        while True:
            cycle_started = time.perf_counter()
            published = await relay.publish_batch(connection)
            if not published:
                break
            cycles.append(time.perf_counter() - cycle_started)
            total += published
        elapsed = time.perf_counter() - started
        stop.set()
        await writer
        await connection.close()
        await producer.stop()
    metrics: dict[str, Any] = {
        "drained_events": total,
        "drain_events_per_s": round(total / elapsed, 1),
        "interactive_events": len(latencies),
        **{f"interactive_commit_to_acked_{k}": v for k, v in latency_summary_ms(latencies).items()},
        **{f"relay_cycle_{k}": v for k, v in latency_summary_ms(cycles).items()},
        "load_average_before": load,
    }
    write_result("relay_lanes", metrics, {"bulk": args.bulk, "batch_size": args.batch_size, "partitions": 12})


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bulk", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
