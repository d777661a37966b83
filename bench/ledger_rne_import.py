"""RNE import benchmark: one municipal file of 500,000 generated rows, POST → job done → every event on Kafka.

Run: ``uv run python bench/ledger_rne_import.py [--rows N]`` (``make bench BENCH=ledger_rne_import``).
Target (DESIGN.md): ≤ 60 s for 500,000 rows. The app runs in-process on the local stack's PostgreSQL and
Kafka; the file is generated with French names, real communes and both RNE date formats.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import write_result
from ledger_support import fresh_bench, municipal_csv, wait_job


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
    asyncio.run(main(parser.parse_args().rows))
