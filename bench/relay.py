"""Outbox relay benchmark: commit → on Kafka latency at a fixed rate, and the maximum sustained throughput.

Run: ``make bench BENCH=relay`` (or ``uv run python bench/relay.py``). The relay runs in its own process, as
in a service; writer processes commit a few events per transaction through `servicekit.outbox.enqueue`,
paced to the offered rate; a consumer notes when each event arrives. Commit → on Kafka is reported between
two bounds: from the writer's clock after its commit returned, and from the event's ``ce_time``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import datetime
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, TopicPartition
from dife_contracts import topics
from dife_contracts.events import HoldPlaced

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import latency_summary_ms, stack_env, write_result
from servicekit.db import make_engine, make_sessionmaker, plain_url
from servicekit.kafka import ensure_topics, make_producer
from servicekit.migrations import upgrade_to_head
from servicekit.outbox import enqueue, enqueue_many
from servicekit.relay import OutboxRelay

SCHEMA = (
    Path(__file__).resolve().parent.parent
    / "libs"
    / "servicekit"
    / "tests"
    / "sample_service"
    / "alembic.ini"
)


def run_relay(dsn: str, bootstrap: str, prefix: str, batch_size: int) -> None:
    async def main() -> None:
        producer = make_producer(bootstrap, client_id="bench-relay")
        await producer.start()
        relay = OutboxRelay(
            dsn=dsn, producer=producer, service_name="bench", topic_prefix=prefix, batch_size=batch_size
        )
        await relay.run()

    asyncio.run(main())


def event() -> HoldPlaced:
    return HoldPlaced(
        elu_id=uuid.uuid4(),
        hold_id=uuid.uuid4(),
        dossier_id=uuid.uuid4(),
        amount_cents=40_000,
        available_after_cents=0,
    )


class Arrivals:
    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5, max_poll_records=5000
        )
        self.topic = topic
        self.at: dict[str, float] = {}
        self.latency_s: dict[str, float] = {}

    async def start(self) -> None:
        await self.consumer.start()
        partitions = self.consumer.partitions_for_topic(self.topic)
        while not partitions:
            await self.consumer._client.force_metadata_update()
            partitions = self.consumer.partitions_for_topic(self.topic)
        self.consumer.assign([TopicPartition(self.topic, p) for p in partitions])
        await self.consumer.seek_to_beginning()

    async def run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=50)
            now = time.time()
            for records in batches.values():
                for record in records:
                    headers = dict(record.headers)
                    event_id = headers["ce_id"].decode()
                    self.at[event_id] = now
                    # ce_time is stamped when the event is written, just before its transaction commits:
                    # arrival − ce_time bounds commit → Kafka from above, on one clock, whoever gets the CPU.
                    written = datetime.fromisoformat(headers["ce_time"].decode().replace("Z", "+00:00"))
                    self.latency_s[event_id] = now - written.timestamp()

    async def wait_for(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.at) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


def write_at_rate(url: str, rate: float, seconds: float, writers: int, per_commit: int) -> dict[str, float]:
    """One writer process: ``writers`` coroutines committing ``per_commit`` events per transaction, paced to
    ``rate`` events/s; returns each event's commit time."""

    async def main() -> dict[str, float]:
        engine = make_engine(url, pool_size=writers)
        sessionmaker = make_sessionmaker(engine)
        committed: dict[str, float] = {}
        interval = writers * per_commit / rate
        start = time.monotonic()

        async def writer(offset: int) -> None:
            n = 0
            while (due := start + offset * per_commit / rate + n * interval) - start < seconds:
                if (delay := due - time.monotonic()) > 0:
                    await asyncio.sleep(delay)
                async with sessionmaker.begin() as session:
                    ids = [await enqueue(session, event(), source="/dife/bench") for _ in range(per_commit)]
                at = time.time()
                committed.update((str(event_id), at) for event_id in ids)
                n += 1

        await asyncio.gather(*(writer(i) for i in range(writers)))
        await engine.dispose()
        return committed

    return asyncio.run(main())


async def fixed_rate(
    url: str, arrivals: Arrivals, rate: int, seconds: float, writers: int, processes: int, per_commit: int
) -> dict[str, float]:
    """Writers in their own processes (as the services' requests would be), so that pacing the load does not
    compete with reading the arrivals."""
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(processes, mp_context=multiprocessing.get_context("spawn")) as pool:
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(pool, write_at_rate, url, rate / processes, seconds, writers, per_commit)
                for _ in range(processes)
            )
        )
    committed = {event_id: at for part in parts for event_id, at in part.items()}
    span_s = max(committed.values()) - min(committed.values())
    await arrivals.wait_for(len(committed), timeout_s=30)
    # Two bounds of commit → on Kafka on a busy 2-core machine: from the writer's clock reading after its
    # commit returned (late when the writer waits for a CPU: a lower bound, can even go negative) and from
    # the event's ce_time, stamped before the commit (an upper bound, counting the transaction itself).
    after_commit = [arrivals.at[i] - t for i, t in committed.items() if i in arrivals.at]
    after_write = [arrivals.latency_s[i] for i in committed if i in arrivals.latency_s]
    return {
        "offered_events_per_s": rate,
        "achieved_events_per_s": round(len(committed) / span_s, 1),
        "events": len(committed),
        "delivered": len(after_commit),
        **{f"from_commit_{k}": v for k, v in latency_summary_ms(after_commit).items()},
        **{f"from_write_{k}": v for k, v in latency_summary_ms(after_write).items()},
    }


async def max_throughput(url: str, arrivals: Arrivals, count: int) -> dict[str, float]:
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    before = len(arrivals.at)
    started = time.monotonic()
    for chunk in range(0, count, 10_000):
        async with sessionmaker.begin() as session:
            await enqueue_many(
                session, (event() for _ in range(min(10_000, count - chunk))), source="/dife/bench"
            )
    written = time.monotonic() - started
    await arrivals.wait_for(before + count, timeout_s=600)
    total = time.monotonic() - started
    await engine.dispose()
    return {
        "bulk_events": count,
        "bulk_write_s": round(written, 2),
        "bulk_end_to_end_s": round(total, 2),
        "max_sustained_events_per_s": round(count / total, 1),
    }


async def main(args: argparse.Namespace) -> None:
    env = stack_env()
    admin = await asyncpg.connect(env["DIFE_PG_ADMIN_URL"])
    name = f"bench_relay_{uuid.uuid4().hex[:8]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    url = (
        env["DIFE_PG_ADMIN_URL"].rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
        + "/"
        + name
    )
    prefix = f"bench.{uuid.uuid4().hex[:6]}."
    topic = prefix + topics.LEDGER
    bootstrap = env["KAFKA_BOOTSTRAP_SERVERS"]
    relay_process: multiprocessing.process.BaseProcess | None = None
    try:
        await asyncio.to_thread(upgrade_to_head, SCHEMA, url)
        await ensure_topics(bootstrap, [topic], partitions=12)
        relay_process = process = multiprocessing.get_context("spawn").Process(
            target=run_relay, args=(plain_url(url), bootstrap, prefix, args.batch_size), daemon=True
        )
        process.start()
        arrivals = Arrivals(bootstrap, topic)
        await arrivals.start()
        reader = asyncio.create_task(arrivals.run())
        await asyncio.sleep(2)  # relay connected and holding its lock
        latency = await fixed_rate(
            url, arrivals, args.rate, args.seconds, args.writers, args.processes, args.events_per_commit
        )
        throughput = await max_throughput(url, arrivals, args.bulk)
        reader.cancel()
        await arrivals.consumer.stop()
        write_result(
            "relay",
            {**latency, **throughput},
            {
                "rate": args.rate,
                "seconds": args.seconds,
                "writers": args.writers,
                "writer_processes": args.processes,
                "events_per_commit": args.events_per_commit,
                "bulk": args.bulk,
                "relay_batch_size": args.batch_size,
                "partitions": 12,
            },
        )
    finally:
        if relay_process is not None:
            relay_process.terminate()
            relay_process.join(5)
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="events/s offered in the latency phase")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--writers", type=int, default=8, help="concurrent writers per writer process")
    parser.add_argument("--processes", type=int, default=2, help="writer processes")
    parser.add_argument("--events-per-commit", type=int, default=1, help="events written by each transaction")
    parser.add_argument("--bulk", type=int, default=100_000, help="events in the throughput phase")
    parser.add_argument("--batch-size", type=int, default=1000)
    asyncio.run(main(parser.parse_args()))
