"""RNE import benchmark: one municipal file of 500,000 generated rows, POST → job done → every event on Kafka.

Run: ``uv run python bench/ledger_rne_import.py [--rows N]`` (``make bench BENCH=ledger_rne_import``).
Target (DESIGN.md): ≤ 60 s for 500,000 rows. The app runs in-process on the local stack's PostgreSQL and
Kafka; the file is generated with French names, real communes and both RNE date formats.

``--rss``: the ledger runs as in production instead (uvicorn, one worker, its relay in the same process) and
the figure is its peak resident set (VmHWM) from start to every event published, with the resident set
sampled every 0.2 s to show which phase peaks (issue 8: ≤ 200 MB). ``--multipart`` sends the file as an HTML
form does.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import httpx
from common import free_port, load_average, peak_rss_mb, write_result
from ledger_balance_read import server_env, wait_ready
from ledger_support import ROOT, fresh_bench, municipal_csv, wait_job


def current_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


async def rss(rows: int, multipart: bool, wait_publish: bool = True) -> None:
    """Peak RSS of the ledger process (uvicorn) while it imports ``rows`` rows and publishes their events."""
    data = municipal_csv(rows)
    load = load_average()
    async with fresh_bench() as bench:
        port = free_port()
        command = [sys.executable, "-m", "uvicorn", "--factory", "rights_ledger.app:create_app_from_env"]
        command += ["--host", "127.0.0.1", "--port", str(port), "--loop", "uvloop", "--http", "httptools"]
        command += ["--no-access-log", "--log-level", "warning"]
        server = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=server_env(bench))
        samples: list[tuple[float, str, float]] = []
        phase = "upload"
        try:
            base_url = f"http://127.0.0.1:{port}"
            await wait_ready(base_url, timeout_s=300)
            started_mb = current_rss_mb(server.pid)
            started = time.perf_counter()

            async def sample() -> None:
                while True:
                    samples.append(
                        (round(time.perf_counter() - started, 1), phase, current_rss_mb(server.pid))
                    )
                    await asyncio.sleep(0.2)

            sampler = asyncio.create_task(sample())
            agent = bench.headers("agent")
            async with httpx.AsyncClient(base_url=base_url, timeout=900) as client:
                path = "/v1/registry/imports?file_type=cm&snapshot_date=2026-01-15"
                if multipart:
                    files = {"file": ("rne.csv", data, "text/csv")}
                    response = await client.post(path, files=files, headers=agent)
                else:
                    response = await client.post(path, content=data, headers=agent)
                assert response.status_code == 202, response.text
                phase = "job"
                job_path = f"/v1/registry/imports/{response.json()['id']}"
                while (job := (await client.get(job_path, headers=agent)).json())["status"] not in (
                    "succeeded",
                    "failed",
                ):
                    await asyncio.sleep(0.2)
                imported_s = time.perf_counter() - started
                phase = "publish"
                while wait_publish and await bench.outbox_backlog() > 0:
                    await asyncio.sleep(0.2)
            published_s = time.perf_counter() - started
            sampler.cancel()
            peak_mb = peak_rss_mb(server.pid)
        finally:
            server.terminate()
            await asyncio.wait_for(server.wait(), timeout=30)
    assert job["status"] == "succeeded", job
    by_phase = {
        name: max((mb for _, p, mb in samples if p == name), default=0.0)
        for name in ("upload", "job", "publish")
    }
    write_result(
        "ledger_rne_import_rss",
        {
            "rows": rows,
            "file_mb": round(len(data) / 1e6, 1),
            "started_mb": started_mb,
            "peak_mb": peak_mb,
            "peak_sampled_mb_by_phase": by_phase,
            "import_s": round(imported_s, 1),
            "all_events_published_s": round(published_s, 1),
            "target_mb": 200,
            "load_average_before": load,
        },
        {"file_type": "cm", "multipart": multipart, "workers": 1, "waited_for_publish": wait_publish},
    )


async def main(rows: int) -> None:
    data = municipal_csv(rows)
    async with fresh_bench() as bench:
        agent = bench.headers("agent")
        async with bench.client() as client:
            started = time.perf_counter()
            response = await client.post(
                "/v1/registry/imports?file_type=cm&snapshot_date=2026-01-15", content=data, headers=agent
            )
            assert response.status_code == 202, response.text
            job = await wait_job(client, f"/v1/registry/imports/{response.json()['id']}", agent)
            imported_s = time.perf_counter() - started
            assert job["status"] == "succeeded", job
            while await bench.outbox_backlog() > 0:
                await asyncio.sleep(0.1)
            published_s = time.perf_counter() - started
    report = job["report"]
    assert isinstance(report, dict)
    write_result(
        "ledger_rne_import",
        {
            "rows": rows,
            "import_s": round(imported_s, 2),
            "rows_per_s": round(rows / imported_s),
            "all_events_published_s": round(published_s, 2),
            "elus_created": report["elus_created"],
            "mandates_created": report["mandates_created"],
            "rows_rejected": report["rows_rejected"],
            "phases_s": report["timings_s"],
            "target_s": 60,
        },
        {"file_type": "cm", "file_mb": round(len(data) / 1e6, 1), "relay_batch_size": 5000},
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=500_000)
    parser.add_argument("--rss", action="store_true", help="peak RSS of the ledger under uvicorn")
    parser.add_argument("--multipart", action="store_true", help="with --rss: upload as an HTML form")
    parser.add_argument("--no-publish-wait", action="store_true", help="with --rss: stop once imported")
    arguments = parser.parse_args()
    if arguments.rss:
        asyncio.run(rss(arguments.rows, arguments.multipart, not arguments.no_publish_wait))
    else:
        asyncio.run(main(arguments.rows))
