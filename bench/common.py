"""What every benchmark shares: where results go and how they are printed.

A benchmark prints its figures and writes ``bench/results/<name>.json`` as
``{"name": ..., "metrics": {...}, "params": {...}, "machine": {...}}``. It never asserts a timing.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import statistics
import subprocess
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
ROOT = RESULTS_DIR.parent.parent
STACK = (sys.executable, str(ROOT / "deploy" / "local" / "stack.py"))


def stack_env() -> dict[str, str]:
    """Kafka and PostgreSQL URLs (``KAFKA_BOOTSTRAP_SERVERS``, ``DIFE_PG_ADMIN_URL``,
    ``<SERVICE>_DATABASE_URL``): from the environment when it names them, else from the local stack,
    started if needed."""
    if os.environ.get("KAFKA_BOOTSTRAP_SERVERS") and os.environ.get("DIFE_PG_ADMIN_URL"):
        return dict(os.environ)
    subprocess.run([*STACK, "up"], check=True, cwd=ROOT, stdout=subprocess.DEVNULL)
    printed = subprocess.run([*STACK, "env"], check=True, capture_output=True, text=True, cwd=ROOT).stdout
    return dict(line.removeprefix("export ").split("=", 1) for line in printed.splitlines() if "=" in line)


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
    return {"cpus": os.cpu_count(), "python": platform.python_version(), "platform": platform.platform()}


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
