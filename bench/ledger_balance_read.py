"""Balance read benchmark: ``GET /v1/accounts/{elu_id}`` at a fixed 500 requests/s, p99 latency.

Run: ``uv run python bench/ledger_balance_read.py [--rate 500 --seconds 20 --elus 50000 --workers 1
--tokens 2000]`` (``make bench BENCH=ledger_balance_read``). Target (DESIGN.md): p99 ≤ 10 ms at 500 req/s
with one uvicorn worker, server CPU ≤ 0.5 ms per request. The service runs as in production, under uvicorn
(uvloop, httptools) in its own process, on the local stack; each request reads an élu's account with that
élu's own RS256 token (``--tokens`` distinct élus, cycled). The load generator is vegeta (Go, installed by
``common.ensure_vegeta``), open loop: requests leave at the fixed rate whatever the server answers. After the
measured run, a ramp of short runs finds the highest rate whose p99 stays within the target.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, MutableMapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_seconds, ensure_vegeta, free_port, load_average, peak_rss_mb, write_result
from ledger_campaign import setup
from ledger_support import ROOT, Bench, fresh_bench
from rights_ledger.app import create_app
from servicekit.testing import running_app

BENCH_DIR = Path(__file__).resolve().parent
TARGET_P99_MS = 10
CHUNK = 500
WARM_UP_RATE = 400
FLOOR_APPS = {"empty_asgi": "http_floor:empty", "asgi_one_account_query": "http_floor:one_query"}


def server_env(bench: Bench) -> dict[str, str]:
    settings = bench.settings
    env = dict(os.environ)
    env.update(
        {
            "LEDGER_ENVIRONMENT": "test",
            "LEDGER_DATABASE_URL": settings.database_url,
            "LEDGER_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "LEDGER_TOPIC_PREFIX": settings.topic_prefix,
            "LEDGER_JWT_PUBLIC_KEY_PEM": settings.jwt_public_key_pem or "",
            "LEDGER_JWT_ISSUER": settings.jwt_issuer,
            "LEDGER_JWT_AUDIENCE": settings.jwt_audience,
            "LEDGER_LOG_LEVEL": "WARNING",
            "LEDGER_NIR_HMAC_KEY": "bench-nir-key",
        }
    )
    return env


@dataclass(frozen=True)
class Server:
    pid: int
    base_url: str


@asynccontextmanager
async def served(app: str, workers: int, env: dict[str, str]) -> AsyncIterator[Server]:
    """``app`` under uvicorn in its own process, as in production, until the block ends."""
    port = free_port()
    factory = ["--factory"] if app.endswith("_from_env") else []
    command = [sys.executable, "-m", "uvicorn", *factory, app]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    # Named explicitly so that a missing uvloop or httptools fails here rather than silently falling back.
    command += ["--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning"]
    process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=env)
    try:
        base_url = f"http://127.0.0.1:{port}"
        await wait_ready(base_url)
        yield Server(process.pid, base_url)
    finally:
        process.terminate()
        await asyncio.wait_for(process.wait(), timeout=30)


async def floor(
    vegeta: Path, app: str, bench: Bench, requests: list[tuple[str, str]], args: argparse.Namespace
) -> dict[str, Any]:
    """One of ``http_floor``'s do-nothing apps under the same uvicorn, attacked at the measured rate with the
    same targets: the CPU per request and the latency no service can go below on this machine."""
    env = {**os.environ, "FLOOR_DATABASE_URL": bench.database_url.replace("+asyncpg", "")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(BENCH_DIR), env.get("PYTHONPATH")]))
    async with served(app, 1, env) as server:
        with tempfile.TemporaryDirectory() as scratch:
            targets = Path(scratch) / "targets.jsonl"
            write_targets(targets, server.base_url, requests)
            await asyncio.to_thread(attack, vegeta, targets, WARM_UP_RATE, 2, server.pid)
            measured = await asyncio.to_thread(attack, vegeta, targets, args.rate, args.seconds, server.pid)
    return {
        key: measured[key]
        for key in ("achieved_rps", "p50_ms", "p99_ms", "errors", "server_cpu_ms_per_request")
    }


async def wait_ready(base_url: str, timeout_s: float = 60) -> None:
    deadline = time.monotonic() + timeout_s
    async with httpx.AsyncClient(base_url=base_url) as client:
        while time.monotonic() < deadline:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"{base_url} did not become ready")


def write_targets(path: Path, base_url: str, requests: list[tuple[str, str]]) -> None:
    """One vegeta target per line, each with its own élu's token; vegeta cycles through them in order."""
    with path.open("w") as targets:
        for request_path, authorization in requests:
            line = {
                "method": "GET",
                "url": base_url + request_path,
                "header": {"Authorization": [authorization]},
            }
            targets.write(json.dumps(line) + "\n")


def attack(
    vegeta: Path, targets: Path, rate: float, seconds: float, server_pid: int, profile: Path | None = None
) -> dict[str, Any]:
    """Open loop: vegeta sends at ``rate`` whatever the server's answers, opening connections as needed, and
    measures each request from its send. Server CPU is read from /proc around the attack. With ``profile``,
    py-spy samples the server meanwhile (collapsed stacks, non-blocking) into that file."""
    cpu_before, load = cpu_seconds(server_pid), load_average()
    profiler = py_spy(server_pid, seconds, profile) if profile is not None else None
    command = [str(vegeta), "attack", "-format", "json", "-targets", str(targets), "-rate", f"{int(rate)}/1s"]
    command += ["-duration", f"{seconds}s", "-timeout", "10s", "-keepalive=true", "-http2=false"]
    attacked = subprocess.run(
        command,
        check=True,
        capture_output=True,
    )
    cpu_used = cpu_seconds(server_pid) - cpu_before
    if profiler is not None:
        profiler.wait(timeout=60)
    report = json.loads(
        subprocess.run(
            [str(vegeta), "report", "-type", "json"], input=attacked.stdout, check=True, capture_output=True
        ).stdout
    )
    latencies = report["latencies"]
    codes = report.get("status_codes") or {}
    ok = int(codes.get("200", 0))
    return {
        "rate_rps": rate,
        "achieved_rps": round(report["throughput"], 1),
        "requests": report["requests"],
        "requests_ok": ok,
        "errors": report["requests"] - ok,
        "p50_ms": round(latencies["50th"] / 1e6, 3),
        "p95_ms": round(latencies["95th"] / 1e6, 3),
        "p99_ms": round(latencies["99th"] / 1e6, 3),
        "max_ms": round(latencies["max"] / 1e6, 3),
        "server_cpu_ms_per_request": round(cpu_used * 1000 / max(report["requests"], 1), 3),
        "load_average_before": load,
    }


def py_spy(pid: int, seconds: float, profile: Path) -> subprocess.Popen[bytes]:
    """py-spy sampling ``pid`` for ``seconds`` into ``profile`` (raw collapsed stacks, non-blocking, so the
    server is never paused; the sampling's CPU is py-spy's own, not the server's)."""
    spy = [os.environ.get("PY_SPY", "py-spy"), "record", "--pid", str(pid), "--format", "raw"]
    spy += ["--rate", "200", "--nonblocking", "--duration", str(int(seconds)), "-o", str(profile)]
    return subprocess.Popen(spy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


async def idle_cpu(pid: int, seconds: float, profile: Path | None) -> float:
    """The server's CPU milliseconds per second while no request arrives (background loops: job runner,
    relay, consumers), optionally py-spied."""
    profiler = py_spy(pid, seconds, profile) if profile is not None else None
    before = cpu_seconds(pid)
    await asyncio.sleep(seconds)
    used = cpu_seconds(pid) - before
    if profiler is not None:
        await asyncio.to_thread(profiler.wait, 60)
    return used * 1000 / seconds


async def tokens_for(bench: Bench, ids: list[str]) -> list[tuple[str, str]]:
    return [(f"/v1/accounts/{elu_id}", bench.headers("elu", sub=elu_id)["Authorization"]) for elu_id in ids]


async def in_process_cpu(bench: Bench, requests: list[tuple[str, str]], count: int) -> dict[str, Any]:
    """The app's own CPU per balance read, without HTTP: each request is an ASGI call on the app (its
    middlewares, routing, token cache, the query on the read pool), one after the other, timed with
    ``time.process_time``. Far less moved by a busy machine than latency, so levers can be compared."""
    app = create_app(bench.settings)
    statuses: Counter[int] = Counter()

    async def read(path: str, authorization: str) -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"bench"), (b"authorization", authorization.encode())],
            "client": ("127.0.0.1", 1),
            "server": ("127.0.0.1", 80),
            "state": {},
        }

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: MutableMapping[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses[message["status"]] += 1

        await app(scope, receive, send)

    async with running_app(app):
        for path, authorization in requests:  # warm: every token verified once, statements prepared
            await read(path, authorization)
        statuses.clear()
        started_cpu, started = time.process_time(), time.perf_counter()
        chunk_cpu_s_per_read: list[float] = []
        for first in range(0, count, CHUNK):
            chunk_started, last = time.process_time(), min(first + CHUNK, count)
            for n in range(first, last):
                await read(*requests[n % len(requests)])
            chunk_cpu_s_per_read.append((time.process_time() - chunk_started) / (last - first))
        cpu_s, wall_s = time.process_time() - started_cpu, time.perf_counter() - started
    return {
        "in_process_requests": count,
        "in_process_statuses": dict(statuses),
        "in_process_cpu_ms_per_request": round(cpu_s * 1000 / count, 3),
        # Other processes only ever add to a chunk's CPU (caches, frequency): the quietest chunk is the
        # figure that compares two versions of the code on a shared machine.
        "in_process_best_chunk_cpu_ms_per_request": round(min(chunk_cpu_s_per_read) * 1000, 3),
        "in_process_wall_ms_per_request": round(wall_s * 1000 / count, 3),
        "load_average_before": load_average(),
    }


async def activated_elus(bench: Bench, count: int) -> list[str]:
    """``count`` random élus whose accounts are activated with their own login, shuffled."""
    connection = await asyncpg.connect(bench.database_url.replace("+asyncpg", ""))
    ids = [
        str(r["elu_id"])
        for r in await connection.fetch(
            # R-ACT-1: an élu token reads only the account its login (sub = elu_id here) activated.
            "UPDATE accounts SET subject = elu_id::text, status = 'active' WHERE elu_id IN "
            "(SELECT elu_id FROM accounts ORDER BY random() LIMIT $1) RETURNING elu_id",
            count,
        )
    ]
    await connection.close()
    random.Random(7).shuffle(ids)
    return ids


async def main(args: argparse.Namespace) -> None:
    if args.in_process:
        async with fresh_bench() as bench:
            await setup(bench, args.elus)
            ids = await activated_elus(bench, args.tokens)
            result = await in_process_cpu(bench, await tokens_for(bench, ids), args.in_process)
        write_result("ledger_balance_read_in_process", result, {"accounts": args.elus, "tokens": len(ids)})
        return
    vegeta = ensure_vegeta()
    async with fresh_bench() as bench:
        await setup(bench, args.elus)
        ids = await activated_elus(bench, args.tokens)
        requests = await tokens_for(bench, ids)
        steps: list[dict[str, Any]] = []
        async with served("rights_ledger.app:create_app_from_env", args.workers, server_env(bench)) as server:
            idle_cpu_ms_per_s = await idle_cpu(server.pid, args.idle_seconds, args.py_spy_idle)
            with tempfile.TemporaryDirectory() as scratch:
                targets = Path(scratch) / "targets.jsonl"
                write_targets(targets, server.base_url, requests)
                # Warm-up (not recorded): connections, prepared statements, and every token verified once,
                # so the measured run sees the token cache as it is for élus who call again.
                warm_seconds = math.ceil(len(requests) / WARM_UP_RATE) + 1
                await asyncio.to_thread(attack, vegeta, targets, WARM_UP_RATE, warm_seconds, server.pid)
                measured = await asyncio.to_thread(
                    attack, vegeta, targets, args.rate, args.seconds, server.pid, args.py_spy
                )
                for rate in args.ramp:
                    steps.append(
                        await asyncio.to_thread(attack, vegeta, targets, rate, args.ramp_seconds, server.pid)
                    )
                    if steps[-1]["p99_ms"] > TARGET_P99_MS or steps[-1]["errors"]:
                        break
            peak_mb = peak_rss_mb(server.pid)
        floors = {name: await floor(vegeta, app, bench, requests, args) for name, app in FLOOR_APPS.items()}
    # The measured run is a step too: when the first ramp step misses, the maximum is still known.
    within = [
        step["rate_rps"]
        for step in [measured, *steps]
        if step["p99_ms"] <= TARGET_P99_MS and not step["errors"]
    ]
    write_result(
        "ledger_balance_read",
        {
            **measured,
            "server_idle_cpu_ms_per_s": round(idle_cpu_ms_per_s, 1),
            "server_peak_rss_mb": peak_mb,
            "target_p99_ms": TARGET_P99_MS,
            "max_rps_with_p99_within_target": max(within, default=None),
            # The server's own cost at this rate here (bench/http_floor.py), and the service's above it.
            "floor": floors,
            "service_cpu_ms_per_request_above_empty_floor": round(
                measured["server_cpu_ms_per_request"] - floors["empty_asgi"]["server_cpu_ms_per_request"], 3
            ),
            "ramp": [
                {key: step[key] for key in ("rate_rps", "achieved_rps", "p50_ms", "p99_ms", "errors")}
                | {"cpu_ms": step["server_cpu_ms_per_request"]}
                for step in steps
            ],
        },
        {
            "rate_rps": args.rate,
            "seconds": args.seconds,
            "accounts": args.elus,
            "distinct_tokens": len(requests),
            "uvicorn_workers": args.workers,
            "load_generator": "vegeta (open loop, one élu token per target line, keep-alive)",
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--elus", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--tokens", type=int, default=2000, help="distinct élus (one token each) the requests cycle through"
    )
    parser.add_argument(
        "--ramp",
        type=int,
        nargs="*",
        default=[600, 700, 800, 1000, 1250, 1500],
        help="rates tried for the maximum",
    )
    parser.add_argument("--ramp-seconds", type=float, default=8)
    parser.add_argument("--py-spy", type=Path, default=None, help="py-spy the server during the measured run")
    parser.add_argument("--idle-seconds", type=float, default=5, help="idle CPU read over this long")
    parser.add_argument("--py-spy-idle", type=Path, default=None, help="py-spy the server while it is idle")
    parser.add_argument(
        "--in-process", type=int, default=0, help="instead: N reads as ASGI calls, the app's CPU per read"
    )
    arguments = parser.parse_args()
    # In process, on the server's event loop (uvloop), so the app's CPU per read is the server's.
    (uvloop.run if arguments.in_process else asyncio.run)(main(arguments))
