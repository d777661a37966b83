"""Peak memory of each service under its load: the largest resident set (VmHWM) of its uvicorn process.

Run: ``uv run python bench/memory.py [--rows 500000] [--offers 100000]`` (``make bench BENCH=memory``).
Target: every service ≤ 200 MB. Each service runs as in production, under uvicorn, one worker:

- **rights-ledger**: balance reads at 500 req/s for 10 s (vegeta, one élu token per request), then an RNE
  municipal file of ``--rows`` rows POSTed to it, until the import's job is done and every event has left
  the outbox (the relay publishes them from the same process);
- **catalogue**: its search mix at 200 req/s for 10 s on ``--offers`` published offers (the catalogue
  search benchmark's data and load).

- **dossier, funding, payout, contributions** (``--only at-rest``): started on a fresh migrated database with
  their consumers, relay and job runner, then ``/healthz``, ``/readyz`` and ``/metrics`` at 200 req/s for
  10 s (vegeta). No domain load of their own yet: their figures are a floor, said so in the result.

``--only`` picks parts (``ledger``, ``catalogue``, ``at-rest``); all by default.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import asyncpg
import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
import catalogue_search
from common import ensure_vegeta, free_port, load_average, peak_rss_mb, scratch_stack, write_result
from ledger_balance_read import attack, server_env, wait_ready, write_targets
from ledger_campaign import setup
from ledger_support import ROOT, Bench, fresh_bench, municipal_csv
from servicekit.migrations import upgrade_to_head

TARGET_MB = 200
SERVICES_WITHOUT_DOMAIN_LOAD = {
    "dossier": ("DOSSIER", "dossier.app"),
    "funding": ("FUNDING", "funding.app"),
    "payout": ("PAYOUT", "payout.app"),
    "contributions": ("CONTRIBUTIONS", "contributions.app"),
}


def current_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def ledger(rows: int, elus: int) -> dict[str, Any]:
    vegeta = ensure_vegeta()
    data = municipal_csv(rows)
    async with fresh_bench() as bench:
        await setup(bench, elus)
        requests = [
            (f"/v1/accounts/{elu_id}", bench.headers("elu", sub=elu_id)["Authorization"])
            for elu_id in await _some_elus(bench, 2000)
        ]
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "--factory", "rights_ledger.app:create_app_from_env"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools"]
        command += ["--no-access-log", "--log-level", "warning"]
        server = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=server_env(bench))
        try:
            base_url = f"http://127.0.0.1:{port}"
            await wait_ready(base_url)
            started_mb = current_rss_mb(server.pid)
            with tempfile.TemporaryDirectory() as scratch:
                targets = Path(scratch) / "targets.jsonl"
                write_targets(targets, base_url, requests)
                reads = await asyncio.to_thread(attack, vegeta, targets, 500, 10, server.pid)
            after_reads_mb = peak_rss_mb(server.pid)
            agent = bench.headers("agent")
            async with httpx.AsyncClient(base_url=base_url, timeout=600) as client:
                started = time.perf_counter()
                # The 50,000 accounts set up for the reads are not in this file: like a snapshot after a
                # general election, it ends them all, which R-REG-2 allows only with force=true.
                response = await client.post(
                    "/v1/registry/imports?file_type=cm&snapshot_date=2026-01-15&force=true",
                    content=data,
                    headers=agent,
                )
                assert response.status_code == 202, response.text
                job_path = f"/v1/registry/imports/{response.json()['id']}"
                while (job := (await client.get(job_path, headers=agent)).json())["status"] not in (
                    "succeeded",
                    "failed",
                ):
                    await asyncio.sleep(0.2)
                while await bench.outbox_backlog() > 0:
                    await asyncio.sleep(0.2)
                import_s = time.perf_counter() - started
                if job["status"] != "succeeded":
                    raise SystemExit(f"the RNE import did not succeed, its RSS would mean nothing: {job}")
            peak_mb = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), timeout=30)
    return {
        "rights_ledger_started_mb": started_mb,
        "rights_ledger_peak_after_reads_mb": after_reads_mb,
        "rights_ledger_reads_p99_ms": reads["p99_ms"],
        "rights_ledger_peak_mb": peak_mb,
        "rights_ledger_import_rows": rows,
        "rights_ledger_import_file_mb": round(len(data) / 1e6, 1),
        "rights_ledger_import_status": job["status"],
        "rights_ledger_import_and_publish_s": round(import_s, 1),
    }


async def _some_elus(bench: Bench, count: int) -> list[str]:
    """``count`` élus whose account is linked to the login ``sub`` = their elu_id, as if each had activated it
    (R-ACT-1: an élu token reads only the account its login activated)."""
    connection = await asyncpg.connect(bench.database_url.replace("+asyncpg", ""))
    try:
        rows = await connection.fetch(
            "UPDATE accounts SET subject = elu_id::text, status = 'active' WHERE elu_id IN "
            "(SELECT elu_id FROM accounts ORDER BY random() LIMIT $1) RETURNING elu_id",
            count,
        )
    finally:
        await connection.close()
    return [str(row["elu_id"]) for row in rows]


async def catalogue(offers: int) -> dict[str, Any]:
    admin_url, kafka = catalogue_search.stack_urls()
    dsn = await catalogue_search.prepare_database(admin_url, offers, reuse=True)
    port = free_port()
    with catalogue_search.catalogue_server(dsn, kafka, port, 1) as server:
        await catalogue_search.wait_until_up(port)
        started_mb = current_rss_mb(server.pid)
        connections = catalogue_search.HttpConnections(port, 32)
        await connections.open()
        try:
            queries = catalogue_search.query_mix(random.Random(7), 2000)
            latencies, errors, _ = await catalogue_search.open_loop(connections, queries, 200)
        finally:
            await connections.close()
        peak_mb = peak_rss_mb(server.pid)
    return {
        "catalogue_started_mb": started_mb,
        "catalogue_peak_mb": peak_mb,
        "catalogue_search_requests": len(latencies),
        "catalogue_search_errors": errors,
    }


async def at_rest(service: str) -> dict[str, Any]:
    """One service under uvicorn on a fresh migrated database (consumers, relay and jobs running), its
    health and metrics endpoints at 200 req/s for 10 s: the floor of its memory, not its domain load."""
    prefix, module = SERVICES_WITHOUT_DOMAIN_LOAD[service]
    vegeta = ensure_vegeta()
    port = free_port()
    async with scratch_stack(f"memory_{service}") as scratch:
        alembic_ini = ROOT / "services" / service / "alembic.ini"
        await asyncio.to_thread(upgrade_to_head, alembic_ini, scratch.database_url)
        server_environment = dict(os.environ) | {
            f"{prefix}_ENVIRONMENT": "test",
            f"{prefix}_DATABASE_URL": scratch.database_url,
            f"{prefix}_KAFKA_BOOTSTRAP_SERVERS": scratch.bootstrap,
            f"{prefix}_TOPIC_PREFIX": scratch.topic_prefix,
            f"{prefix}_TOPIC_PARTITIONS": "3",
            f"{prefix}_LOG_LEVEL": "WARNING",
        }
        command = [sys.executable, "-m", "uvicorn", "--factory", f"{module}:create_app_from_env"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools"]
        command += ["--no-access-log", "--log-level", "warning"]
        server = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=server_environment)
        try:
            base_url = f"http://127.0.0.1:{port}"
            await wait_ready(base_url)
            started_mb = current_rss_mb(server.pid)
            with tempfile.TemporaryDirectory() as folder:
                targets = Path(folder) / "targets.jsonl"
                write_targets(targets, base_url, [(path, "") for path in ("/healthz", "/readyz", "/metrics")])
                await asyncio.to_thread(attack, vegeta, targets, 200, 10, server.pid)
            peak_mb = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), timeout=30)
    return {f"{service}_started_mb": started_mb, f"{service}_peak_mb": peak_mb}


async def main(args: argparse.Namespace) -> None:
    load = load_average()
    metrics: dict[str, Any] = {}
    if "ledger" in args.only:
        metrics |= await ledger(args.rows, args.elus)
    if "catalogue" in args.only:
        metrics |= await catalogue(args.offers)
    if "at-rest" in args.only:
        for service in SERVICES_WITHOUT_DOMAIN_LOAD:
            metrics |= await at_rest(service)
        metrics["health_load_only"] = list(SERVICES_WITHOUT_DOMAIN_LOAD)
    peaks = {name: value for name, value in metrics.items() if name.endswith("_peak_mb")}
    metrics["within_target"] = {name: value <= TARGET_MB for name, value in peaks.items()}
    metrics["target_mb"] = TARGET_MB
    metrics["load_average_before"] = load
    write_result(
        "memory",
        metrics,
        {
            "rne_rows": args.rows,
            "ledger_accounts": args.elus,
            "catalogue_offers": args.offers,
            "workers": 1,
            "parts": args.only,
        },
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=500_000, help="rows of the RNE file POSTed to the ledger")
    parser.add_argument("--elus", type=int, default=50_000, help="accounts set up for the balance reads")
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--only", nargs="+", default=["ledger", "catalogue", "at-rest"])
    asyncio.run(main(parser.parse_args()))
