"""Finding a real Kafka and PostgreSQL for tests: named by the environment, else Docker, else the local stack.

A test that needs them never skips: when none can be had it fails and says how to start them.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest

HOW_TO_START = (
    "Tests need a real Kafka and PostgreSQL. Start the local stack with `make stack-up` "
    "(or `uv run python deploy/local/stack.py up`), or point the tests at running ones with "
    "KAFKA_BOOTSTRAP_SERVERS=host:port and DIFE_PG_ADMIN_URL=postgresql://user:pass@host:port/postgres."
)


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap: str
    pg_admin_url: str  # libpq form, a role allowed to CREATE DATABASE


def _reachable(host_port: str) -> bool:
    host, _, port = host_port.rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=2):
            return True
    except OSError:
        return False


def _pg_host_port(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.hostname or '127.0.0.1'}:{parts.port or 5432}"


def _check(infra: Infra, origin: str) -> Infra:
    missing = [
        name
        for name, address in (
            ("Kafka", infra.kafka_bootstrap.split(",")[0]),
            ("PostgreSQL", _pg_host_port(infra.pg_admin_url)),
        )
        if not _reachable(address)
    ]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not reachable ({origin}: {infra}). {HOW_TO_START}", pytrace=False
        )
    return infra


def _docker_answers() -> bool:
    if shutil.which("docker") is None:
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=10).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _repo_root() -> Path | None:
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            if (folder / "deploy" / "local" / "stack.py").is_file():
                return folder
    return None


def _local_stack() -> Infra:
    root = _repo_root()
    if root is None:
        pytest.fail(f"deploy/local/stack.py not found above {Path.cwd()}. {HOW_TO_START}", pytrace=False)
    stack = root / "deploy" / "local" / "stack.py"
    started = subprocess.run(
        [sys.executable, str(stack), "up"], cwd=root, capture_output=True, text=True, timeout=900
    )
    if started.returncode != 0:
        pytest.fail(
            f"the local stack did not start:\n{started.stdout}\n{started.stderr}\n{HOW_TO_START}",
            pytrace=False,
        )
    printed = subprocess.run(
        [sys.executable, str(stack), "env"], cwd=root, capture_output=True, text=True, timeout=60
    )
    values = dict(
        line.removeprefix("export ").split("=", 1) for line in printed.stdout.splitlines() if "=" in line
    )
    return _check(
        Infra(kafka_bootstrap=values["KAFKA_BOOTSTRAP_SERVERS"], pg_admin_url=values["DIFE_PG_ADMIN_URL"]),
        "local stack",
    )


def _containers(request: pytest.FixtureRequest) -> Infra:
    try:
        from testcontainers.community.kafka import KafkaContainer  # testcontainers >= 4.15
    except ImportError:
        from testcontainers.kafka import KafkaContainer
    from testcontainers.postgres import PostgresContainer

    kafka = KafkaContainer("apache/kafka:4.1.1").with_kraft()
    postgres = PostgresContainer("postgres:18", username="dife", password="dife", dbname="postgres")
    kafka.start()
    request.addfinalizer(kafka.stop)
    postgres.start()
    request.addfinalizer(postgres.stop)
    url = postgres.get_connection_url().replace("postgresql+psycopg2://", "postgresql://")
    return _check(Infra(kafka_bootstrap=kafka.get_bootstrap_server(), pg_admin_url=url), "testcontainers")


def resolve_infra(request: pytest.FixtureRequest) -> Infra:
    kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    postgres = os.environ.get("DIFE_PG_ADMIN_URL")
    if kafka and postgres:
        return _check(Infra(kafka_bootstrap=kafka, pg_admin_url=postgres), "environment")
    if _docker_answers():
        return _containers(request)
    return _local_stack()
