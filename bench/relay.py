"""Outbox relay benchmark: commit → on Kafka latency at a fixed offered rate, the relay's maximum sustained
rate beside Kafka's own producer (same run), and interactive latency while a bulk backlog drains.

Run: ``make bench BENCH=relay`` (or ``uv run python bench/relay.py``). The relay runs in its own process, as
in a service, with servicekit's producer settings. Phases, one after the other:

1. **Latency**: writer processes (``--writers``) commit one event per transaction, open loop, from one
   shared timetable (``--rate`` per second): each commit is handed to a writer task (one per connection,
   ``--connections`` per process) the moment it is due, whatever the earlier ones are doing, so the offered
   rate is the target rate and not what a closed loop of writers manages. ``writer_started_events_per_s``
   and ``writer_start_late_p99_ms`` show whether the writers kept to the timetable
   (``--latency-only`` runs this phase alone). Commit → on Kafka
   is reported between two bounds: from the writer's clock after its commit returned (lower bound) and from
   the event's ``ce_time``, stamped before the INSERT (upper bound). The rows are exactly those
   ``servicekit.outbox.enqueue`` writes (the interactive lane); the writer uses asyncpg directly so that
   its own cost does not starve the relay on a 2-core machine.
2. **Kafka's own rate**: ``org.apache.kafka.tools.ProducerPerformance`` (300-byte records, acks=all,
   idempotent) on a topic with the same partitions; the jar comes from Maven Central (``common``).
3. **Relay throughput**: ``--bulk`` events committed with ``enqueue_many`` (the bulk lane), then drained;
   the rate is counted from the first to the last arrival on Kafka.
4. **Lanes**: interactive events at ``--lane-rate`` per second while the bulk backlog of phase 3 drains;
   their commit → on Kafka latency shows whether they wait behind the bulk ones.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import re
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import uvloop
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from dife_contracts import topics
from dife_contracts.events import HoldPlaced

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    Scratch,
    ensure_kafka_tools,
    latency_summary_ms,
    load_average,
    read_whole_topic,
    scratch_stack,
    write_result,
)
from servicekit.db import make_engine, make_sessionmaker, plain_url
from servicekit.kafka import ensure_topics, make_relay_producer
from servicekit.migrations import upgrade_to_head
from servicekit.outbox import enqueue_many
from servicekit.relay import OutboxRelay

SCHEMA = (
    Path(__file__).resolve().parent.parent
    / "libs"
    / "servicekit"
    / "tests"
    / "sample_service"
    / "alembic.ini"
)
PARTITIONS = 12
SOURCE = "/dife/bench"
# The row `servicekit.outbox.enqueue` writes for one event (interactive lane: the column's default).
_INSERT_SQL = """
    INSERT INTO outbox (topic, ce_id, ce_type, ce_source, ce_subject, ce_time, traceparent, payload)
    VALUES ($1, $2, $3, $4, $5, $6, NULL, $7)
"""


def run_relay(dsn: str, bootstrap: str, prefix: str, batch_size: int) -> None:
    async def main() -> None:
        producer = make_relay_producer(bootstrap, client_id="bench-relay")
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
    """Reads the topic from the beginning and notes when each event reached Kafka (by ``ce_id``): the topic
    stamps records with the broker's append time, on the same machine's clock as the writers'."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5, max_poll_records=5000
        )
        self.topic = topic
        self.at: dict[bytes, float] = {}
        self.written_at: dict[bytes, bytes] = {}

    async def start(self) -> None:
        await read_whole_topic(self.consumer, self.topic)

    async def run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=50)
            for records in batches.values():
                for record in records:
                    headers = dict(record.headers)
                    event_id = headers["ce_id"]
                    # LogAppendTime: when the broker appended it, whatever this consumer's lag.
                    self.at[event_id] = record.timestamp / 1000
                    self.written_at[event_id] = headers["ce_time"]  # parsed later, off the hot loop

    def latency_from_write_s(self, event_ids: list[bytes]) -> list[float]:
        """Arrival − ``ce_time`` (stamped before the INSERT: an upper bound of commit → on Kafka)."""
        return [self.at[i] - _epoch(self.written_at[i]) for i in event_ids if i in self.at]

    async def wait_for(self, count: int, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while len(self.at) < count and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


def _epoch(ce_time: bytes) -> float:
    return datetime.fromisoformat(ce_time.decode().replace("Z", "+00:00")).timestamp()


def write_open_loop(
    dsn: str,
    topic: str,
    rate: float,
    seconds: float,
    connections: int,
    after_bulk: bool = False,
    share: tuple[int, int] = (0, 1),
    ready: Any = None,
) -> dict[str, Any]:
    """One writer process offering ``rate`` commits per second, open loop; if ``after_bulk``, from the moment
    bulk rows are committed.

    A timetable, not a loop of writers: commit ``n`` is due at ``start + n / rate``. A pacer hands every
    commit that is due to a queue the moment it is due (all that are due at each wake-up, so a late wake-up
    does not lower the rate), and ``connections`` writer tasks, one connection each, take them in order. A
    slow commit holds one writer; the others keep taking the next ones. How late each commit started after
    its due instant is recorded, so a writer that cannot keep up shows. Runs on uvloop, like the services.
    With ``share = (k, n)`` this process takes commits k, k + n, k + 2n… of one timetable shared by n
    processes, which all start it when they have passed the ``ready`` barrier (events built, connected).

    Returns each event's commit time (after the commit returned), its start lateness and the rate at which
    commits started."""

    async def main() -> dict[str, Any]:
        links = [await asyncpg.connect(dsn) for _ in range(connections)]
        committed: dict[bytes, float] = {}
        late_s: list[float] = []
        started_at: list[float] = []
        part, parts = share
        mine = list(range(part, int(rate * seconds), parts))
        total = len(mine)
        # Built beforehand: the writer stands for many services' request handlers, and its own Python cost
        # must not take the CPU the relay needs on a 2-core machine.
        events = [event() for _ in range(total)]
        rows = [(uuid.uuid4(), one.ce_type, one.aggregate_id(), one.to_json()) for one in events]
        due_commits: asyncio.Queue[tuple[float, tuple[uuid.UUID, str, str, bytes]] | None] = asyncio.Queue()

        async def writer(statement: asyncpg.prepared_stmt.PreparedStatement) -> None:
            while (item := await due_commits.get()) is not None:
                due, (ce_id, ce_type, subject, payload) = item
                now = time.monotonic()
                late_s.append(now - due)
                started_at.append(now)
                await statement.fetch(topic, ce_id, ce_type, SOURCE, subject, datetime.now(UTC), payload)
                committed[str(ce_id).encode()] = time.time()

        # Prepared before the writers start: the wait for the bulk rows below polls on links[0] meanwhile,
        # and asyncpg runs one operation at a time per connection.
        statements = [await link.prepare(_INSERT_SQL) for link in links]
        writers = [asyncio.create_task(writer(statement)) for statement in statements]
        while after_bulk and not await links[0].fetchval(
            "SELECT EXISTS (SELECT 1 FROM outbox WHERE lane = 1)"
        ):
            await asyncio.sleep(0.005)
        if ready is not None:
            await asyncio.to_thread(ready.wait)
        start, cpu_before = time.monotonic() + 0.01, time.process_time()
        handed = 0
        while handed < total:
            now = time.monotonic()
            while handed < total and start + mine[handed] / rate <= now:
                due_commits.put_nowait((start + mine[handed] / rate, rows[handed]))
                handed += 1
            if handed < total:
                await asyncio.sleep(max(0.0, start + mine[handed] / rate - time.monotonic()))
        for _ in writers:
            due_commits.put_nowait(None)
        await asyncio.gather(*writers)
        for link in links:
            await link.close()
        return {
            "committed": committed,
            "late_s": late_s,
            "started_at": started_at,
            "cpu_s": time.process_time() - cpu_before,
        }

    return uvloop.run(main())


async def latency_phase(
    dsn: str, arrivals: Arrivals, topic: str, rate: float, seconds: float, connections: int, processes: int
) -> dict[str, Any]:
    """Writers in processes of their own (as the services' requests would be), so that pacing the load does
    not compete with reading the arrivals; ``processes`` share one timetable, ``connections`` each."""
    loop = asyncio.get_running_loop()
    load = load_average()
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(processes, mp_context=context) as pool:
        ready = manager.Barrier(processes)
        parts = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool,
                    write_open_loop,
                    dsn,
                    topic,
                    rate,
                    seconds,
                    connections,
                    False,
                    (k, processes),
                    ready,
                )
                for k in range(processes)
            )
        )
    committed: dict[bytes, float] = {key: at for part in parts for key, at in part["committed"].items()}
    late_s: list[float] = [late for part in parts for late in part["late_s"]]
    started_at = sorted(at for part in parts for at in part["started_at"])
    span_s = max(committed.values()) - min(committed.values())
    await arrivals.wait_for(len(arrivals.at) + 1, timeout_s=1)
    deadline = time.monotonic() + 30
    while any(i not in arrivals.at for i in committed) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    # Two bounds of commit → on Kafka on a busy 2-core machine: from the writer's clock reading after its
    # commit returned (late when the writer waits for a CPU: a lower bound, can even go negative) and from
    # the event's ce_time, stamped before the INSERT (an upper bound, counting the transaction itself).
    after_commit = [arrivals.at[i] - t for i, t in committed.items() if i in arrivals.at]
    after_write = arrivals.latency_from_write_s(list(committed))
    return {
        "offered_events_per_s": rate,
        "writer_started_events_per_s": round((len(started_at) - 1) / (started_at[-1] - started_at[0]), 1),
        "achieved_events_per_s": round(len(committed) / span_s, 1),
        "writer_start_late_p99_ms": latency_summary_ms(late_s)["p99_ms"],
        "writer_cpu_ms_per_commit": round(sum(part["cpu_s"] for part in parts) * 1000 / len(committed), 3),
        "events": len(committed),
        "delivered": len(after_commit),
        **{f"from_commit_{k}": v for k, v in latency_summary_ms(after_commit).items()},
        **{f"from_write_{k}": v for k, v in latency_summary_ms(after_write).items()},
        "load_average_before": load,
    }


def producer_performance(bootstrap: str, topic: str, records: int) -> dict[str, Any]:
    """Kafka's own producer, the yardstick: 300-byte records, acks=all, idempotent, as fast as it goes."""
    classpath = ensure_kafka_tools()
    command = ["java", "-Xmx512m", "-cp", classpath, "org.apache.kafka.tools.ProducerPerformance"]
    command += ["--topic", topic, "--num-records", str(records), "--record-size", "300", "--throughput", "-1"]
    command += ["--producer-props", f"bootstrap.servers={bootstrap}", "acks=all", "enable.idempotence=true"]
    load = load_average()
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    final = [line for line in output.splitlines() if f"{records} records sent" in line][-1]
    rate = re.search(r"([\d.]+) records/sec", final)
    assert rate is not None, final
    return {
        "kafka_producer_performance_events_per_s": round(float(rate.group(1)), 1),
        "kafka_producer_performance_summary": final.strip(),
        "kafka_producer_performance_load_average_before": load,
    }


def write_bulk(url: str, count: int) -> float:
    """One process: ``count`` events through ``enqueue_many`` (the bulk lane) in one transaction; returns
    when it committed."""

    async def main() -> float:
        engine = make_engine(url)
        sessionmaker = make_sessionmaker(engine)
        async with sessionmaker() as session, session.begin():
            for chunk in range(0, count, 10_000):
                events = [event() for _ in range(min(10_000, count - chunk))]
                await enqueue_many(session, events, source=SOURCE)
        committed = time.time()
        await engine.dispose()
        return committed

    return asyncio.run(main())


async def throughput_phase(
    url: str, arrivals: Arrivals, count: int, interactive_rate: float, topic: str
) -> dict[str, Any]:
    """``count`` bulk events committed at once, then drained; from that commit on, interactive events at
    ``interactive_rate`` for 3 s. The relay's rate is counted from the commit to the empty outbox (a row
    leaves once Kafka acknowledged it), read from the database, not from a consumer. Writers run in processes
    of their own, so this one only reads arrivals."""
    dsn = plain_url(url)
    connection = await asyncpg.connect(dsn)
    load = load_average()
    started = time.time()
    loop = asyncio.get_running_loop()
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(2, mp_context=context) as pool:
        bulk_job = loop.run_in_executor(pool, write_bulk, url, count)
        lane_job = loop.run_in_executor(pool, write_open_loop, dsn, topic, interactive_rate, 3.0, 8, True)
        while not await connection.fetchval("SELECT EXISTS (SELECT 1 FROM outbox)"):
            await asyncio.sleep(0.01)
        seen_at = time.time()
        backlog = await connection.fetchval("SELECT count(*) FROM outbox")
        committed_at = await bulk_job
        lane = await lane_job
    while await connection.fetchval("SELECT EXISTS (SELECT 1 FROM outbox)"):
        await asyncio.sleep(0.02)
    empty_at = time.time()
    await connection.close()
    committed: dict[bytes, float] = lane["committed"]
    deadline = time.monotonic() + 60
    while any(i not in arrivals.at for i in committed) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)
    during = [arrivals.at[i] - t for i, t in committed.items() if i in arrivals.at]
    return {
        "bulk_events": count,
        "bulk_write_s": round(committed_at - started, 2),
        "bulk_backlog_at_commit": backlog,
        "bulk_end_to_end_s": round(empty_at - started, 2),
        "relay_drain_s": round(empty_at - seen_at, 2),
        "relay_drain_events_per_s": round((count + len(committed)) / (empty_at - seen_at), 1),
        "bulk_load_average_before": load,
        "interactive_during_bulk_events": len(committed),
        "interactive_during_bulk_delivered": len(during),
        **{f"interactive_during_bulk_{k}": v for k, v in latency_summary_ms(during).items()},
    }


async def create_log_append_time_topic(bootstrap: str, topic: str) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, client_id="bench-relay-setup")
    await admin.start()
    try:
        configs = {"message.timestamp.type": "LogAppendTime"}
        await admin.create_topics([NewTopic(topic, PARTITIONS, 1, topic_configs=configs)])
    finally:
        await admin.close()


def latency_params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "rate": args.rate,
        "seconds": args.seconds,
        "writer_processes": args.writers,
        "writer_connections_each": args.connections,
        "events_per_commit": 1,
        "writer": "processes sharing one timetable (uvloop); due commits handed to one task per connection",
    }


async def main(args: argparse.Namespace) -> None:
    async with scratch_stack("relay") as scratch:
        await measure(args, scratch)


async def measure(args: argparse.Namespace, scratch: Scratch) -> None:
    url, prefix, bootstrap = scratch.database_url, scratch.topic_prefix, scratch.bootstrap
    topic = prefix + topics.LEDGER
    yardstick_topic = prefix + "producer-performance"
    relay_process: multiprocessing.process.BaseProcess | None = None
    arrivals = Arrivals(bootstrap, topic)
    reader: asyncio.Task[None] | None = None
    try:
        await asyncio.to_thread(upgrade_to_head, SCHEMA, url)
        await ensure_topics(bootstrap, [yardstick_topic], partitions=PARTITIONS)
        await create_log_append_time_topic(bootstrap, topic)
        relay_process = process = multiprocessing.get_context("spawn").Process(
            target=run_relay, args=(plain_url(url), bootstrap, prefix, args.batch_size), daemon=True
        )
        process.start()
        await arrivals.start()
        reader = asyncio.create_task(arrivals.run())
        await asyncio.sleep(2)  # relay connected and holding its lock
        latency = await latency_phase(
            plain_url(url), arrivals, topics.LEDGER, args.rate, args.seconds, args.connections, args.writers
        )
        if args.latency_only:
            reader.cancel()
            await arrivals.consumer.stop()
            write_result("relay_latency", {**latency, "target_p99_ms": 50}, latency_params(args))
            return
        yardstick = await asyncio.to_thread(
            producer_performance, bootstrap, yardstick_topic, args.yardstick_records
        )
        throughput = await throughput_phase(url, arrivals, args.bulk, args.lane_rate, topics.LEDGER)
        reader.cancel()
        await arrivals.consumer.stop()
        ratio = throughput["relay_drain_events_per_s"] / yardstick["kafka_producer_performance_events_per_s"]
        write_result(
            "relay",
            {
                **latency,
                **yardstick,
                **throughput,
                "relay_share_of_kafka_rate": round(ratio, 3),
                "target_p99_ms": 50,
                "target_share_of_kafka_rate": 0.5,
            },
            {
                **latency_params(args),
                "bulk": args.bulk,
                "lane_rate": args.lane_rate,
                "relay_batch_size": args.batch_size,
                "partitions": PARTITIONS,
                "yardstick_records": args.yardstick_records,
            },
        )
    finally:
        if relay_process is not None:
            relay_process.terminate()
            relay_process.join(5)
        if reader is not None:  # after an error: a live consumer would have the deleted topic created again
            reader.cancel()
        await arrivals.consumer.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="events/s offered in the latency phase")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16, help="connections of each latency writer")
    parser.add_argument("--writers", type=int, default=4, help="writer processes sharing the timetable")
    parser.add_argument("--bulk", type=int, default=200_000, help="events in the throughput phase")
    parser.add_argument("--lane-rate", type=float, default=100, help="interactive events/s, bulk draining")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--latency-only", action="store_true", help="phase 1 only (bench/results/relay_latency)"
    )
    parser.add_argument("--yardstick-records", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args()))
