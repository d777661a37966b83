"""Balance read benchmark: ``GET /v1/accounts/{elu_id}`` at a fixed 500 requests/s, p99 latency.

Run: ``uv run python bench/ledger_balance_read.py [--rate 500 --seconds 20 --elus 50000 --workers 1]``
(``make bench BENCH=ledger_balance_read``). Target (DESIGN.md): p99 ≤ 10 ms at 500 req/s. The service runs
as in production, under uvicorn in its own processes, on the local stack; each request carries an élu's own
RS256 token (verified per request). The load is open-loop: latency is measured from each request's scheduled
start, so a stalled server is not hidden by a waiting client.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import free_port, latency_summary_ms, write_result
from ledger_campaign import setup
from ledger_support import ROOT, Bench, fresh_bench


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
    raise RuntimeError("the ledger did not become ready")


class Connection:
    """A bare HTTP/1.1 keep-alive connection: the load generator must cost far less than the server it
    measures (httpx's pool costs more per request than the whole endpoint)."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str, authorization: str) -> int:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\nAuthorization: {authorization}\r\n\r\n".encode()
        )
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self.reader.readexactly(length)
        return status


async def load(port: int, requests: list[tuple[str, str]], rate: float, seconds: float) -> dict[str, Any]:
    latencies: list[float] = []
    errors = 0
    queue: asyncio.Queue[tuple[str, str, float] | None] = asyncio.Queue()
    connections = 64

    async def worker() -> None:
        nonlocal errors
        connection = Connection("127.0.0.1", port)
        while (item := await queue.get()) is not None:
            path, authorization, scheduled = item
            try:
                status = await connection.get(path, authorization)
            except (OSError, asyncio.IncompleteReadError, ValueError):
                errors += 1
                connection = Connection("127.0.0.1", port)
                continue
            if status != 200:
                errors += 1
                continue
            latencies.append(time.perf_counter() - scheduled)

    warmup = Connection("127.0.0.1", port)
    for path, authorization in requests[:300]:
        await warmup.get(path, authorization)
    workers = [asyncio.create_task(worker()) for _ in range(connections)]
    total = int(rate * seconds)
    start = time.perf_counter()
    for i in range(total):
        scheduled = start + i / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        path, authorization = requests[i % len(requests)]
        queue.put_nowait((path, authorization, scheduled))
    for _ in workers:
        queue.put_nowait(None)
    await asyncio.gather(*workers)
    elapsed = time.perf_counter() - start
    return {"latencies": latencies, "errors": errors, "achieved_rps": round(len(latencies) / elapsed, 1)}


async def main(rate: float, seconds: float, elus: int, workers: int) -> None:
    async with fresh_bench() as bench:
        await setup(bench, elus)
        connection = await asyncpg.connect(bench.database_url.replace("+asyncpg", ""))
        ids = [
            str(r["elu_id"])
            for r in await connection.fetch("SELECT elu_id FROM accounts ORDER BY random() LIMIT 500")
        ]
        await connection.close()
        random.Random(7).shuffle(ids)
        requests = [
            (f"/v1/accounts/{elu_id}", bench.headers("elu", sub=elu_id)["Authorization"]) for elu_id in ids
        ]
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "--factory", "rights_ledger.app:create_app_from_env"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        command += ["--no-access-log", "--log-level", "warning"]
        server = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=server_env(bench))
        try:
            base_url = f"http://127.0.0.1:{port}"
            await wait_ready(base_url)
            result = await load(port, requests, rate, seconds)
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), timeout=30)
    write_result(
        "ledger_balance_read",
        {
            **latency_summary_ms(result["latencies"]),
            "requests_ok": len(result["latencies"]),
            "errors": result["errors"],
            "achieved_rps": result["achieved_rps"],
            "target_p99_ms": 10,
        },
        {"rate_rps": rate, "seconds": seconds, "accounts": elus, "uvicorn_workers": workers},
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rate", type=float, default=500)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--elus", type=int, default=50_000)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    asyncio.run(main(args.rate, args.seconds, args.elus, args.workers))
