"""Dossier benchmark: an OF's dossier list and the public list of financed trainings at a fixed rate on a
database of `--dossiers` dossiers (issue 9: p95 ≤ 30 ms at 200 req/s with 1,000,000 dossiers); then
submissions per second, sustained.

Creates the database `bench_dossier` with the dossier's real migrations and generates the dossiers in SQL
(150 organismes, 95 départements, every status); `--reuse` keeps a database that already holds them (only new
migrations are applied). Runs the dossier service under uvicorn (uvloop, httptools; no relay, consumers or
jobs) and sends GETs with vegeta (Go, open loop: requests leave at `--rate` whatever the server answers; one
target line per request, each OF list with its own organisme's token): half `GET /v1/dossiers` (first pages,
next pages by cursor, a status filter), half the public list (year, département or SIRET filter, first or
next page). Reports p50/p95/p99 per list, the achieved rate, errors, and the server's CPU per request (its
utime + stime delta from /proc over the attack, divided by the requests). Then `--submitters` élus at a
time submit requests for `--submit-seconds` (closed loop, each élu once, tokens minted beforehand).

    uv run python bench/dossier_lists.py [--reuse] [--dossiers 1000000] [--rate 200] [--duration 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from common import (
    cpu_seconds,
    ensure_vegeta,
    free_port,
    latency_summary_ms,
    load_average,
    stack_env,
    write_result,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from servicekit import devtokens

DOSSIER = Path(__file__).resolve().parent.parent / "services" / "dossier"
BENCH_DATABASE = "bench_dossier"
ORGANISMES = 150
DEPARTMENTS = 95
ISSUER, AUDIENCE = "dife-bench", "dife"
OF_LIST, PUBLIC = "/v1/dossiers", "/v1/public/financed-trainings"
PAGE = 20
TARGET_P95_MS = 30

STATUSES = (
    "submitted", "validated", "accepted", "in_training", "completed", "service_done_declared",
    "service_done_validated", "paid", "paid", "paid", "refused_by_organisme", "cancelled_by_elu", "expired",
)  # fmt: skip


def siret(n: int) -> str:
    return f"{31_000_000_000_000 + n:014d}"


GENERATE_SQL = f"""
INSERT INTO elus (elu_id, family_name, given_names, account_active, mandates)
SELECT md5('elu' || g)::uuid, 'Nom' || g, 'Prénom', true, '[{{"start": "2020-03-15", "end": null}}]'::jsonb
FROM generate_series(1, $1::int / 2) AS g;

INSERT INTO organismes (siret, name)
SELECT lpad((31000000000000 + g)::text, 14, '0'), 'Organisme ' || g
FROM generate_series(0, {ORGANISMES - 1}) g;

INSERT INTO dossiers (dossier_id, elu_id, offer_id, session_id, siret, purpose, price_cents, hours,
    training_start, training_end, offer_title, theme_code, organisme_name, department, status, submitted_at,
    answer_by, accept_by, auto_validation_on)
SELECT md5('dossier' || g)::uuid,
       md5('elu' || (1 + g % ($1::int / 2)))::uuid,
       md5('offer' || (g % 3000))::uuid,
       md5('session' || (g % 30000))::uuid,
       lpad((31000000000000 + g % {ORGANISMES})::text, 14, '0'),
       'mandate', 56000, 7,
       date '2024-01-08' + (g % 1400),
       date '2024-01-08' + (g % 1400),
       'Formation ' || (g % 3000), 'FAL-03', 'Organisme ' || (g % {ORGANISMES}),
       lpad((1 + g % {DEPARTMENTS})::text, 2, '0'),
       (ARRAY{list(STATUSES)})[1 + g % {len(STATUSES)}],
       timestamptz '2024-01-01' + g * interval '1 minute',
       date '2024-01-03' + (g % 1400),
       date '2024-01-05' + (g % 1400),
       date '2024-01-15' + (g % 1400)
FROM generate_series(1, $1::int) AS g;
"""


async def _generated(dsn: str, count: int) -> bool:
    """Whether the database holds this benchmark's `count` generated dossiers (its last one is the mark)."""
    try:
        connection = await asyncpg.connect(dsn)
    except asyncpg.InvalidCatalogNameError:
        return False
    try:
        return bool(
            await connection.fetchval(
                "SELECT EXISTS (SELECT FROM dossiers WHERE dossier_id = md5('dossier' || $1::text)::uuid)"
                " AND NOT EXISTS (SELECT FROM dossiers WHERE dossier_id = md5('dossier' || $2::text)::uuid)",
                str(count),
                str(count + 1),
            )
        )
    except asyncpg.UndefinedTableError:
        return False
    finally:
        await connection.close()


async def _migrate(dsn: str) -> None:
    from servicekit.migrations import upgrade_to_head

    await asyncio.to_thread(
        upgrade_to_head, DOSSIER / "alembic.ini", dsn.replace("postgresql://", "postgresql+asyncpg://")
    )


async def prepare_database(admin_url: str, count: int, *, reuse: bool) -> str:
    base = admin_url.rsplit("/", 1)[0]
    dsn = f"{base}/{BENCH_DATABASE}"
    if reuse and await _generated(dsn, count):
        started = time.perf_counter()
        await _migrate(dsn)
        seconds = time.perf_counter() - started
        print(f"reused {BENCH_DATABASE} ({count} dossiers), migrated in {seconds:.1f} s")
        return dsn
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    finally:
        await admin.close()
    await _migrate(dsn)
    started = time.perf_counter()
    connection = await asyncpg.connect(dsn)
    try:
        for statement in GENERATE_SQL.split(";\n\n"):
            await connection.execute(statement.replace("$1::int", str(count)))
        await connection.execute("VACUUM ANALYZE")
    finally:
        await connection.close()
    print(f"generated {count} dossiers in {time.perf_counter() - started:.1f} s")
    return dsn


async def seed_submissions(dsn: str, elus: int) -> tuple[list[uuid.UUID], uuid.UUID, uuid.UUID]:
    """Fresh élus (no dossier, so no overlap) and one reinsertion session with room for all of them."""
    offer_id, session_id = uuid.uuid4(), uuid.uuid4()
    ids = [uuid.uuid4() for _ in range(elus)]
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "INSERT INTO offers VALUES"
            " ($1, $2, 'reinsertion', 'Bilan de compétences', NULL, 24, 150000, '69', true, now())",
            offer_id,
            siret(0),
        )
        await connection.execute(
            "INSERT INTO sessions (session_id, offer_id, start_date, end_date, capacity)"
            " VALUES ($1, $2, current_date + 90, current_date + 95, 1000000)",
            session_id,
            offer_id,
        )
        await connection.copy_records_to_table(
            "elus",
            records=[(i, "Bench", "Élu", True, '[{"start": "2020-03-15", "end": null}]') for i in ids],
            columns=["elu_id", "family_name", "given_names", "account_active", "mandates"],
        )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()
    return ids, offer_id, session_id


@contextlib.contextmanager
def dossier_server(dsn: str, kafka: str, port: int, public_pem: str, workers: int) -> Iterator[Any]:
    env = {
        **os.environ,
        "DOSSIER_DATABASE_URL": dsn.replace("postgresql://", "postgresql+asyncpg://", 1),
        "DOSSIER_KAFKA_BOOTSTRAP_SERVERS": kafka,
        "DOSSIER_TOPIC_PREFIX": "bench.dossier.",
        "DOSSIER_CREATE_TOPICS": "false",
        "DOSSIER_CONSUMERS_ENABLED": "false",
        "DOSSIER_RELAY_ENABLED": "false",
        "DOSSIER_JOBS_ENABLED": "false",
        "DOSSIER_LOG_LEVEL": "WARNING",
        "DOSSIER_JWT_PUBLIC_KEY_PEM": public_pem,
        "DOSSIER_JWT_ISSUER": ISSUER,
        "DOSSIER_JWT_AUDIENCE": AUDIENCE,
    }
    command = [
        sys.executable, "-m", "uvicorn", "--factory", "dossier.app:create_app_from_env",
        "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
        # Named explicitly so that a missing uvloop or httptools fails here rather than silently falling back.
        "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log",
    ]  # fmt: skip
    process = subprocess.Popen(command, env=env)
    try:
        yield process
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


async def wait_until_up(client: httpx.AsyncClient) -> None:
    deadline = time.monotonic() + 60
    while True:
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/healthz")).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise SystemExit("the dossier service did not start within 60 s")
        await asyncio.sleep(0.2)


Target = tuple[str, dict[str, str]]


async def _next_cursor(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> str | None:
    response = await client.get(path, headers=headers)
    response.raise_for_status()
    cursor: str | None = response.json()["next_cursor"]
    return cursor


async def request_mix(client: httpx.AsyncClient, rng: random.Random, tokens: list[str]) -> list[Target]:
    """Realistic requests, each appearing in proportion: an OF's first page (with or without a status
    filter) and its next pages (cursors taken from the server), the public list by year, département or
    SIRET, first or next page."""
    of_lists: list[Target] = []
    for n, token in enumerate(tokens):
        headers = {"Authorization": f"Bearer {token}"}
        first = f"{OF_LIST}?limit={PAGE}"
        of_lists += [(first, headers), (f"{first}&status={STATUSES[n % len(STATUSES)]}", headers)]
        if n % 3 == 0:
            cursor = await _next_cursor(client, first, headers)
            if cursor:
                of_lists.append((f"{first}&cursor={cursor}", headers))
    public: list[Target] = []
    filters = [f"year={year}" for year in (2024, 2025, 2026, 2027)]
    filters += [f"department={d:02d}" for d in rng.sample(range(1, DEPARTMENTS + 1), 30)]
    filters += [f"siret={siret(n)}" for n in rng.sample(range(ORGANISMES), 30)]
    for query in filters:
        first = f"{PUBLIC}?limit={PAGE}&{query}"
        public.append((first, {}))
        cursor = await _next_cursor(client, first, {})
        if cursor:
            public.append((f"{first}&cursor={cursor}", {}))
    mix = [rng.choice(of_lists) if i % 2 else rng.choice(public) for i in range(4000)]
    return mix


def write_targets(path: Path, base_url: str, mix: list[Target]) -> None:
    """One vegeta target per line (vegeta cycles through them in order)."""
    with path.open("w") as targets:
        for request_path, headers in mix:
            header = {name: [value] for name, value in headers.items()}
            line = {"method": "GET", "url": base_url + request_path, "header": header}
            targets.write(json.dumps(line) + "\n")


def attack(vegeta: Path, targets: Path, rate: float, seconds: float, server_pid: int) -> dict[str, Any]:
    """Open loop at `rate`; latencies per list from vegeta's own results (measured from each send)."""
    cpu_before, load = cpu_seconds(server_pid), load_average()
    command = [str(vegeta), "attack", "-format", "json", "-targets", str(targets), "-rate", f"{int(rate)}/1s"]
    command += ["-duration", f"{seconds}s", "-timeout", "30s", "-keepalive=true", "-http2=false"]
    command += ["-max-body", "0", "-workers", "32"]
    attacked = subprocess.run(command, check=True, capture_output=True)
    cpu_used = cpu_seconds(server_pid) - cpu_before
    report = json.loads(
        subprocess.run(
            [str(vegeta), "report", "-type", "json"], input=attacked.stdout, check=True, capture_output=True
        ).stdout
    )
    results = subprocess.run(
        [str(vegeta), "encode", "--to", "json"], input=attacked.stdout, check=True, capture_output=True
    ).stdout.splitlines()
    by_list: dict[str, list[float]] = {"of_list": [], "public_list": []}
    errors = 0
    for line in results:
        result = json.loads(line)
        if result["code"] != 200:
            errors += 1
            continue
        kind = "public_list" if PUBLIC in result["url"] else "of_list"
        by_list[kind].append(result["latency"] / 1e9)
    every = by_list["of_list"] + by_list["public_list"]
    return {
        "target_rate_per_s": rate,
        "achieved_rate_per_s": round(report["throughput"], 1),
        "requests": report["requests"],
        "errors": errors,
        **{f"all_{k}": v for k, v in latency_summary_ms(every).items()},
        **{f"of_list_{k}": v for k, v in latency_summary_ms(by_list["of_list"]).items()},
        **{f"public_list_{k}": v for k, v in latency_summary_ms(by_list["public_list"]).items()},
        "server_cpu_ms_per_request": round(cpu_used * 1000 / max(report["requests"], 1), 3),
        "load_average_before": load,
        "load_average_after": load_average(),
    }


@contextlib.contextmanager
def profiled(pid: int, seconds: float, output: Path | None) -> Iterator[None]:
    """py-spy sampling the server during the measured attack (collapsed stacks in `output`), when asked."""
    if output is None:
        yield
        return
    py_spy = shutil.which("py-spy")
    if py_spy is None:
        raise SystemExit("--profile needs py-spy: uv run --with py-spy python bench/dossier_lists.py ...")
    command = [py_spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200"]
    command += ["--format", "raw", "--output", str(output), "--nonblocking"]
    recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    try:
        yield
    finally:
        recorder.wait(timeout=60)


async def submissions(
    client: httpx.AsyncClient,
    tokens: list[str],
    offer_id: uuid.UUID,
    session_id: uuid.UUID,
    workers: int,
    seconds: float,
    server_pid: int,
) -> dict[str, Any]:
    """Closed loop: `workers` élus at a time submit until `seconds` pass; each élu submits once."""
    queue: asyncio.Queue[str] = asyncio.Queue()
    for token in tokens:
        queue.put_nowait(token)
    body = {"offer_id": str(offer_id), "session_id": str(session_id)}
    done: list[float] = []
    refused = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal refused
        while time.perf_counter() < deadline and not queue.empty():
            token = queue.get_nowait()
            headers = {"Authorization": f"Bearer {token}", "Idempotency-Key": str(uuid.uuid4())}
            started = time.perf_counter()
            try:
                response = await client.post(OF_LIST, json=body, headers=headers)
            except httpx.TransportError:
                refused += 1
                continue
            if response.status_code == 201:
                done.append(time.perf_counter() - started)
            else:
                refused += 1

    cpu_before, load = cpu_seconds(server_pid), load_average()
    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    cpu_used = cpu_seconds(server_pid) - cpu_before
    return {
        "submissions_per_s": round(len(done) / elapsed, 1),
        "submissions": len(done),
        "submissions_refused": refused,
        "submit_server_cpu_ms_per_request": round(cpu_used * 1000 / max(len(done) + refused, 1), 3),
        "submit_load_average_before": load,
        **{f"submit_{k}": v for k, v in (latency_summary_ms(done).items() if done else {})},
    }


async def run(args: argparse.Namespace) -> None:
    env = stack_env()
    vegeta = ensure_vegeta()
    dsn = await prepare_database(env["DIFE_PG_ADMIN_URL"], args.dossiers, reuse=args.reuse)
    elus, offer_id, session_id = await seed_submissions(dsn, args.submitters * 400)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    of_tokens = [
        devtokens.mint_token(
            private_pem, sub=f"of-{n}", roles=["organisme"], siret=siret(n), issuer=ISSUER, audience=AUDIENCE
        )
        for n in range(ORGANISMES)
    ]
    elu_tokens = [
        devtokens.mint_token(private_pem, sub=str(elu_id), roles=["elu"], issuer=ISSUER, audience=AUDIENCE)
        for elu_id in elus
    ]
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    public_pem = devtokens.public_pem_of(private_pem)
    with (
        dossier_server(dsn, env["KAFKA_BOOTSTRAP_SERVERS"], port, public_pem, args.workers) as server,
        tempfile.TemporaryDirectory() as scratch,
    ):
        limits = httpx.Limits(max_connections=args.submitters, max_keepalive_connections=args.submitters)
        async with httpx.AsyncClient(base_url=base_url, timeout=60, limits=limits) as client:
            await wait_until_up(client)
            mix = await request_mix(client, random.Random(7), of_tokens)
            targets = Path(scratch) / "targets.jsonl"
            write_targets(targets, base_url, mix)
            # Warm-up (not recorded): connections, prepared statements, caches.
            await asyncio.to_thread(attack, vegeta, targets, args.rate / 2, args.warmup, server.pid)
            with profiled(server.pid, args.duration, args.profile):
                measured = await asyncio.to_thread(
                    attack, vegeta, targets, args.rate, args.duration, server.pid
                )
            print(json.dumps(measured, indent=1), flush=True)
            submitted = await submissions(
                client, elu_tokens, offer_id, session_id, args.submitters, args.submit_seconds, server.pid
            )
    params = {
        "dossiers": args.dossiers,
        "target_rate_per_s": args.rate,
        "duration_s": args.duration,
        "page_size": PAGE,
        "target_p95_ms": TARGET_P95_MS,
        "distinct_targets": len(set(path for path, _ in mix)),
        "submitters": args.submitters,
        "submit_seconds": args.submit_seconds,
        "uvicorn_workers": args.workers,
        "server": "uvicorn (uvloop, httptools), PostgreSQL local, relay/consumers/jobs off",
        "load_generator": "vegeta open loop, same machine; submissions: httpx closed loop",
    }
    write_result("dossier_lists", {**measured, **submitted}, params)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--reuse", action="store_true", help="keep bench_dossier if it holds the dossiers")
    parser.add_argument("--rate", type=float, default=200.0, help="GETs per second, open loop")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds at half the rate, not recorded")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn workers")
    parser.add_argument("--submitters", type=int, default=8, help="concurrent élus submitting")
    parser.add_argument("--submit-seconds", type=float, default=10.0)
    parser.add_argument("--profile", type=Path, help="py-spy's collapsed stacks of the measured attack")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
