"""Outbox relay benchmark: commit → on Kafka latency at a fixed offered rate, the relay's maximum sustained
rate beside Kafka's own producer (same run), and interactive latency while a bulk backlog drains.

Run: ``make bench BENCH=relay`` (or ``uv run python bench/relay.py``). The relay runs in its own process, as
in a service, with servicekit's producer settings. Phases, one after the other:

1. **Latency**: ``pgbench`` (C, shipped with the local stack's PostgreSQL) commits one event per transaction
   at ``--rate`` per second, open loop (``-R``: transactions are scheduled on a Poisson timetable whatever the
   earlier ones are doing), from ``--clients`` connections. Each transaction inserts exactly the row
   ``servicekit.outbox.enqueue`` writes (the interactive lane). A Python writer cost 0.4 ms of CPU per commit,
   and its four processes took more than a core of the two the relay, PostgreSQL and Kafka share; pgbench
   costs a tenth of that. ``writer_schedule_lag_p99_ms`` shows whether it kept to the timetable
   (``--latency-only`` runs this phase alone). Commit → on Kafka is reported between two bounds: from the
   commit instant pgbench logs for the transaction (lower bound) and from the event's ``ce_time``, stamped
   during the INSERT (upper bound). The topic stamps records with the broker's append time, so the arrivals
   are read once the writer is done and reading them takes no CPU from the run.
2. **Kafka's own rate**: ``org.apache.kafka.tools.ProducerPerformance`` (300-byte records, acks=all,
   idempotent) on a topic with the same partitions; the jar comes from Maven Central (``common``).
3. **Relay throughput**: ``--bulk`` events committed with ``enqueue_many`` (the bulk lane, on a topic of their
   own that nobody reads during the run, as nobody reads ProducerPerformance's), then drained; the rate is
   counted from the commit to the empty outbox. Where the drain's CPU goes is reported per event (the relay's
   process, Kafka, PostgreSQL, the whole machine), beside the CPU per record of phase 2.
4. **Lanes**: interactive events at ``--lane-rate`` per second (pgbench again) while the bulk backlog of
   phase 3 drains; their commit → on Kafka latency shows whether they wait behind the bulk ones.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Collection
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from dife_contracts import topics
from dife_contracts.events import HoldPlaced

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests-e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    Scratch,
    cpu_seconds,
    ensure_kafka_tools,
    latency_summary_ms,
    load_average,
    machine_busy_seconds,
    pgbench_path,
    read_whole_topic,
    scratch_stack,
    stack_env,
    write_result,
)
from faults.supervisor import Stack
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
INTERACTIVE_TOPIC = "bench.interactive"
"""The interactive events' topic (the bulk ones go to ``topics.LEDGER``): the only one read here."""
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

    def latency_from_commit_s(self, committed: dict[bytes, float]) -> list[float]:
        """Arrival − the commit instant pgbench logged (a lower bound of commit → on Kafka), for the events
        that arrived."""
        return [self.at[i] - at for i, at in committed.items() if i in self.at]

    def latency_from_write_s(self, event_ids: list[bytes]) -> list[float]:
        """Arrival − ``ce_time`` (stamped during the INSERT: an upper bound of commit → on Kafka)."""
        return [self.at[i] - _epoch(self.written_at[i]) for i in event_ids if i in self.at]

    async def read_until_seen(self, event_ids: Collection[bytes], timeout_s: float) -> None:
        """Read the topic until every one of ``event_ids`` has arrived, or ``timeout_s`` has passed (the
        missing ones then show as ``delivered`` < ``events``)."""
        reader = asyncio.create_task(self.run())
        deadline = time.monotonic() + timeout_s
        try:
            while any(i not in self.at for i in event_ids) and time.monotonic() < deadline:
                await asyncio.sleep(0.05)
        finally:
            reader.cancel()


def _epoch(ce_time: bytes) -> float:
    return datetime.fromisoformat(ce_time.decode().replace("Z", "+00:00")).timestamp()


def pgbench_script(topic: str, run: int) -> str:
    """One transaction, one event: the row `servicekit.outbox.enqueue` writes. Its ``ce_id`` names the run,
    the client and the client's transaction number, the numbers under which pgbench logs the transaction's
    commit instant (`event_id`); its key is a random uuid, so events spread over the partitions as aggregates
    do."""
    sample = event()
    return f"""\\set n :n + 1
INSERT INTO outbox (topic, ce_id, ce_type, ce_source, ce_subject, ce_time, traceparent, payload)
SELECT '{topic}',
       ('{_event_id_prefix(run)}' || lpad(:client_id::text, 4, '0') || lpad(:n::text, 8, '0'))::uuid,
       '{sample.ce_type}', '{SOURCE}', gen_random_uuid()::text, clock_timestamp(), NULL,
       '\\x{sample.to_json().hex()}'::bytea;
"""


def _event_id_prefix(run: int) -> str:
    return f"00000000-0000-4000-{run:04d}-"


def event_id(run: int, client: int, transaction: int) -> bytes:
    """The ``ce_id`` header of the event that pgbench's ``client`` wrote in its ``transaction``-th commit."""
    return f"{_event_id_prefix(run)}{client:04d}{transaction:08d}".encode()


def write_with_pgbench(
    dsn: str, topic: str, rate: float, seconds: int, clients: int, run: int
) -> dict[str, Any]:
    """``pgbench`` committing one event per transaction at ``rate`` per second for ``seconds``, open loop;
    ``run`` tells the events of this call from those of the others.

    Returns each event's commit instant (``committed``, by ``ce_id``: when pgbench saw its commit return),
    how late transactions started after their scheduled instant (``late_s``), the instants commits started
    (``started_at``) and pgbench's CPU seconds."""
    with tempfile.TemporaryDirectory(prefix="bench-relay-") as workdir:
        script = Path(workdir) / "commit.sql"
        script.write_text(pgbench_script(topic, run))
        command = [str(pgbench_path()), "-n", "-M", "prepared", "-R", str(rate), "-T", str(seconds)]
        command += ["-c", str(clients), "-j", "2", "-D", "n=0", "-f", str(script)]
        command += ["-l", "--log-prefix", str(Path(workdir) / "tx"), dsn]
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(command, check=True, capture_output=True, text=True)
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        committed: dict[bytes, float] = {}
        late_s: list[float] = []
        started_at: list[float] = []
        for log in Path(workdir).glob("tx.*"):
            # client_id transaction_no latency_us script_no epoch_s epoch_us schedule_lag_us
            for line in log.read_text().splitlines():
                client, transaction, latency_us, _, epoch_s, epoch_us, lag_us = map(int, line.split())
                done = epoch_s + epoch_us / 1e6
                committed[event_id(run, client, transaction)] = done
                started_at.append(done - latency_us / 1e6)
                late_s.append(lag_us / 1e6)
    cpu_s = (cpu_after.ru_utime + cpu_after.ru_stime) - (cpu_before.ru_utime + cpu_before.ru_stime)
    return {"committed": committed, "late_s": late_s, "started_at": sorted(started_at), "cpu_s": cpu_s}


async def latency_phase(
    dsn: str, arrivals: Arrivals, topic: str, rate: float, seconds: int, clients: int
) -> dict[str, Any]:
    """pgbench offers the commits; the arrivals are read afterwards (the broker stamped them)."""
    load = load_average()
    written = await asyncio.to_thread(write_with_pgbench, dsn, topic, rate, seconds, clients, 1)
    committed: dict[bytes, float] = written["committed"]
    started_at: list[float] = written["started_at"]
    span_s = max(committed.values()) - min(committed.values())
    await arrivals.read_until_seen(committed, timeout_s=30)
    # Two bounds of commit → on Kafka: from the instant pgbench saw the commit return (a lower bound: it
    # may see it late) and from the event's ce_time, stamped during the INSERT (an upper bound, counting
    # the transaction itself).
    after_commit = arrivals.latency_from_commit_s(committed)
    after_write = arrivals.latency_from_write_s(list(committed))
    return {
        "offered_events_per_s": rate,
        "writer_started_events_per_s": round((len(started_at) - 1) / (started_at[-1] - started_at[0]), 1),
        "achieved_events_per_s": round(len(committed) / span_s, 1),
        "writer_schedule_lag_p99_ms": latency_summary_ms(written["late_s"])["p99_ms"],
        "writer_cpu_ms_per_commit": round(written["cpu_s"] * 1000 / len(committed), 3),
        "events": len(committed),
        "delivered": len(after_commit),
        **{f"from_commit_{k}": v for k, v in latency_summary_ms(after_commit).items()},
        **{f"from_write_{k}": v for k, v in latency_summary_ms(after_write).items()},
        "load_average_before": load,
    }


class CpuMeter:
    """CPU seconds so far of the relay's process, of Kafka and PostgreSQL (its backends included), and of the
    whole machine. Kafka's and PostgreSQL's are read only when they are this checkout's stack (``make bench``
    starts it), whose pids are known; else they are left out rather than counted as nothing."""

    def __init__(self, relay_pid: int, stack: Stack) -> None:
        self.relay_pid = relay_pid
        self.stack = stack
        self.stack_is_ours = stack.is_this_checkouts()

    def read(self) -> dict[str, float]:
        counts = {"relay": cpu_seconds(self.relay_pid), "machine": machine_busy_seconds()}
        if self.stack_is_ours:
            counts |= self.stack.cpu_seconds()
        return counts

    def us_per_event(self, before: dict[str, float], events: int) -> dict[str, float]:
        """Microseconds of CPU per event of each reading since ``before``."""
        return {name: round((used - before[name]) * 1e6 / events, 1) for name, used in self.read().items()}


def producer_performance(
    bootstrap: str, topic: str, records: int, meter: CpuMeter | None = None
) -> dict[str, Any]:
    """Kafka's own producer, the yardstick: 300-byte records, acks=all, idempotent, as fast as it goes; with a
    ``meter``, the CPU per record it cost Kafka and the machine."""
    classpath = ensure_kafka_tools()
    command = ["java", "-Xmx512m", "-cp", classpath, "org.apache.kafka.tools.ProducerPerformance"]
    command += ["--topic", topic, "--num-records", str(records), "--record-size", "300", "--throughput", "-1"]
    command += ["--producer-props", f"bootstrap.servers={bootstrap}", "acks=all", "enable.idempotence=true"]
    load, cpu_before = load_average(), meter.read() if meter else {}
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    cpu = meter.us_per_event(cpu_before, records) if meter else {}
    final = [line for line in output.splitlines() if f"{records} records sent" in line][-1]
    rate = re.search(r"([\d.]+) records/sec", final)
    assert rate is not None, final
    figures: dict[str, Any] = {
        "kafka_producer_performance_events_per_s": round(float(rate.group(1)), 1),
        "kafka_producer_performance_summary": final.strip(),
        "kafka_producer_performance_load_average_before": load,
    }
    if meter:  # the machine's figure includes the producer JVM's start-up; Kafka's is the broker's alone
        del cpu["relay"]  # the relay is idle while ProducerPerformance runs
        figures["kafka_producer_performance_cpu_us_per_record"] = cpu
    return figures


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
    url: str, arrivals: Arrivals, count: int, interactive_rate: float, meter: CpuMeter
) -> dict[str, Any]:
    """``count`` bulk events committed at once, then drained; from that commit on, interactive events at
    ``interactive_rate`` for 3 s. The relay's rate is counted from the commit to the empty outbox (a row
    leaves once Kafka acknowledged it), read from the database, not from a consumer; the interactive events'
    arrivals are read once the outbox is empty."""
    dsn = plain_url(url)
    connection = await asyncpg.connect(dsn)
    load = load_average()
    started = time.time()
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        bulk_job = loop.run_in_executor(pool, write_bulk, url, count)
        while not await connection.fetchval("SELECT EXISTS (SELECT 1 FROM outbox)"):
            await asyncio.sleep(0.01)
        seen_at, cpu_before = time.time(), meter.read()
        lane_job = asyncio.create_task(
            asyncio.to_thread(write_with_pgbench, dsn, INTERACTIVE_TOPIC, interactive_rate, 3, 8, 2)
        )
        backlog = await connection.fetchval("SELECT count(*) FROM outbox")
        committed_at = await bulk_job
        lane = await lane_job
    await until_outbox_empty(connection, timeout_s=600)
    empty_at, cpu = time.time(), meter.us_per_event(cpu_before, count)
    await connection.close()
    committed: dict[bytes, float] = lane["committed"]
    await arrivals.read_until_seen(committed, timeout_s=60)
    during = arrivals.latency_from_commit_s(committed)
    return {
        "bulk_events": count,
        "bulk_write_s": round(committed_at - started, 2),
        "bulk_backlog_at_commit": backlog,
        "bulk_end_to_end_s": round(empty_at - started, 2),
        "relay_drain_s": round(empty_at - seen_at, 2),
        "relay_drain_events_per_s": round((count + len(committed)) / (empty_at - seen_at), 1),
        "bulk_load_average_before": load,
        # Where the drain's CPU goes, per bulk event: the relay, Kafka, PostgreSQL (the three pgbench
        # seconds of interactive events included) and the whole machine, against the cores it has.
        "relay_drain_cpu_us_per_event": cpu,
        "relay_drain_machine_busy_share": round(
            cpu["machine"] * count / 1e6 / ((empty_at - seen_at) * (os.cpu_count() or 1)), 2
        ),
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


async def until_relay_live(dsn: str, timeout_s: float = 120.0) -> None:
    """Return once the relay has carried one event to Kafka: its process starts in seconds (it imports this
    module again), and a timetable begun before would measure that start, not the relay."""
    connection = await asyncpg.connect(dsn)
    try:
        probe = event()
        await connection.execute(
            _INSERT_SQL,
            INTERACTIVE_TOPIC,
            uuid.uuid4(),
            probe.ce_type,
            SOURCE,
            probe.aggregate_id(),
            datetime.now(UTC),
            probe.to_json(),
        )
        await until_outbox_empty(connection, timeout_s)
    finally:
        await connection.close()


async def until_outbox_empty(connection: asyncpg.Connection, timeout_s: float) -> None:
    """Return once the relay has published and deleted every row; fail after ``timeout_s`` (a relay that
    stopped would otherwise keep the benchmark waiting forever)."""
    deadline = time.monotonic() + timeout_s
    while await connection.fetchval("SELECT EXISTS (SELECT 1 FROM outbox)"):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the outbox still has rows after {timeout_s} s: is the relay running?")
        await asyncio.sleep(0.02)


def latency_params(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "rate": args.rate,
        "seconds": args.seconds,
        "writer": f"pgbench -R {args.rate} -c {args.clients} -j 2 -M prepared (open loop, Poisson timetable)",
        "events_per_commit": 1,
    }


async def main(args: argparse.Namespace) -> None:
    async with scratch_stack("relay") as scratch:
        await measure(args, scratch)


async def measure(args: argparse.Namespace, scratch: Scratch) -> None:
    url, prefix, bootstrap = scratch.database_url, scratch.topic_prefix, scratch.bootstrap
    yardstick_topic = prefix + "producer-performance"
    relay_process: multiprocessing.process.BaseProcess | None = None
    arrivals = Arrivals(bootstrap, prefix + INTERACTIVE_TOPIC)
    try:
        await asyncio.to_thread(upgrade_to_head, SCHEMA, url)
        await ensure_topics(bootstrap, [yardstick_topic, prefix + topics.LEDGER], partitions=PARTITIONS)
        await create_log_append_time_topic(bootstrap, prefix + INTERACTIVE_TOPIC)
        relay_process = process = multiprocessing.get_context("spawn").Process(
            target=run_relay, args=(plain_url(url), bootstrap, prefix, args.batch_size), daemon=True
        )
        process.start()
        await arrivals.start()
        assert process.pid is not None, "started just above"
        meter = CpuMeter(process.pid, Stack(bootstrap, stack_env()["DIFE_PG_ADMIN_URL"]))
        await until_relay_live(plain_url(url))
        latency = await latency_phase(
            plain_url(url), arrivals, INTERACTIVE_TOPIC, args.rate, args.seconds, args.clients
        )
        if args.latency_only:
            write_result("relay_latency", {**latency, "target_p99_ms": 50}, latency_params(args))
            return
        yardstick = await asyncio.to_thread(
            producer_performance, bootstrap, yardstick_topic, args.yardstick_records, meter
        )
        throughput = await throughput_phase(url, arrivals, args.bulk, args.lane_rate, meter)
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
        # Also after an error: a live consumer would have the deleted topic created again.
        await arrivals.consumer.stop()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rate", type=int, default=1000, help="events/s offered in the latency phase")
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--clients", type=int, default=16, help="pgbench connections in the latency phase")
    parser.add_argument("--bulk", type=int, default=200_000, help="events in the throughput phase")
    parser.add_argument("--lane-rate", type=float, default=100, help="interactive events/s, bulk draining")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument(
        "--latency-only", action="store_true", help="phase 1 only (bench/results/relay_latency)"
    )
    parser.add_argument("--yardstick-records", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args()))
