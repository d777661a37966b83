"""Dossier benchmark: an OF's dossier list and the public list of financed trainings, open loop, on a database
of `--dossiers` dossiers; then submissions per second, closed loop.

Creates a fresh database with the dossier's real migrations, generates the dossiers in SQL (150 organismes,
100 départements, every status), runs the dossier service under uvicorn (no relay, no consumers) and sends
GETs at `--rate` per second (half `GET /v1/dossiers` with an OF token, half the public list with a filter);
then `--submitters` concurrent élus submit requests for `--submit-seconds`.

    uv run python bench/dossier_lists.py [--dossiers 1000000] [--rate 200] [--duration 30]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from common import free_port, latency_summary_ms, stack_env, write_result
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from servicekit import devtokens

DOSSIER = Path(__file__).resolve().parent.parent / "services" / "dossier"
BENCH_DATABASE = "bench_dossier"
ORGANISMES = 150
ISSUER, AUDIENCE = "dife-bench", "dife"
PUBLIC = "/v1/public/financed-trainings"

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
       lpad((1 + g % 95)::text, 2, '0'),
       (ARRAY{list(STATUSES)})[1 + g % {len(STATUSES)}],
       timestamptz '2024-01-01' + g * interval '1 minute',
       date '2024-01-03' + (g % 1400),
       date '2024-01-05' + (g % 1400),
       date '2024-01-15' + (g % 1400)
FROM generate_series(1, $1::int) AS g;
"""


async def prepare_database(admin_url: str, count: int) -> str:
    base = admin_url.rsplit("/", 1)[0]
    dsn = f"{base}/{BENCH_DATABASE}"
    admin = await asyncpg.connect(admin_url)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{BENCH_DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{BENCH_DATABASE}"')
    finally:
        await admin.close()
    from servicekit.migrations import upgrade_to_head

    await asyncio.to_thread(
        upgrade_to_head, DOSSIER / "alembic.ini", dsn.replace("postgresql://", "postgresql+asyncpg://")
    )
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
    finally:
        await connection.close()
    return ids, offer_id, session_id


@contextlib.contextmanager
def dossier_server(dsn: str, kafka: str, port: int, public_pem: str) -> Any:
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
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log",
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


async def open_loop(
    client: httpx.AsyncClient, requests: list[tuple[str, str, dict[str, str]]], rate: float
) -> dict[str, list[float]]:
    """Each request at its due time whatever the server's pace; latency counts from the due time."""
    latencies: dict[str, list[float]] = {"of_list": [], "public_list": [], "errors": []}
    start = time.perf_counter() + 0.1

    async def one(index: int, kind: str, path: str, headers: dict[str, str]) -> None:
        due = start + index / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        try:
            response = await client.get(path, headers=headers)
        except httpx.TransportError:
            latencies["errors"].append(0.0)
            return
        if response.status_code != 200:
            latencies["errors"].append(0.0)
            return
        latencies[kind].append(time.perf_counter() - due)

    await asyncio.gather(*(one(i, *request) for i, request in enumerate(requests)))
    return latencies


def request_mix(rng: random.Random, count: int, tokens: list[str]) -> list[tuple[str, str, dict[str, str]]]:
    mix = []
    for _ in range(count):
        if rng.random() < 0.5:
            mix.append(
                ("of_list", "/v1/dossiers?limit=20", {"Authorization": f"Bearer {rng.choice(tokens)}"})
            )
        elif rng.random() < 0.5:
            mix.append(
                (
                    "public_list",
                    f"/v1/public/financed-trainings?limit=20&year={rng.choice((2024, 2025, 2026, 2027))}",
                    {},
                )
            )
        else:
            mix.append(
                (
                    "public_list",
                    f"/v1/public/financed-trainings?limit=20&department={rng.randrange(1, 96):02d}",
                    {},
                )
            )
    return mix


async def submissions(
    client: httpx.AsyncClient,
    private_pem: str,
    elus: list[uuid.UUID],
    offer_id: uuid.UUID,
    session_id: uuid.UUID,
    workers: int,
    seconds: float,
) -> dict[str, Any]:
    """Closed loop: `workers` élus at a time submit until `seconds` pass; each élu submits once."""
    queue: asyncio.Queue[uuid.UUID] = asyncio.Queue()
    for elu_id in elus:
        queue.put_nowait(elu_id)
    body = {"offer_id": str(offer_id), "session_id": str(session_id)}
    done: list[float] = []
    refused = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal refused
        while time.perf_counter() < deadline and not queue.empty():
            elu_id = queue.get_nowait()
            token = devtokens.mint_token(
                private_pem, sub=str(elu_id), roles=["elu"], issuer=ISSUER, audience=AUDIENCE
            )
            started = time.perf_counter()
            response = await client.post(
                "/v1/dossiers", json=body, headers={"Authorization": f"Bearer {token}"}
            )
            if response.status_code == 201:
                done.append(time.perf_counter() - started)
            else:
                refused += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - started
    return {
        "submissions_per_s": round(len(done) / elapsed, 1),
        "submissions": len(done),
        "submissions_refused": refused,
        **{f"submit_{k}": v for k, v in (latency_summary_ms(done).items() if done else {})},
    }


async def run(args: argparse.Namespace) -> None:
    env = stack_env()
    dsn = await prepare_database(env["DIFE_PG_ADMIN_URL"], args.dossiers)
    elus, offer_id, session_id = await seed_submissions(dsn, args.submitters * 200)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    tokens = [
        devtokens.mint_token(
            private_pem, sub=f"of-{n}", roles=["organisme"], siret=siret(n), issuer=ISSUER, audience=AUDIENCE
        )
        for n in range(ORGANISMES)
    ]
    port = free_port()
    with dossier_server(dsn, env["KAFKA_BOOTSTRAP_SERVERS"], port, devtokens.public_pem_of(private_pem)):
        limits = httpx.Limits(max_connections=64, max_keepalive_connections=64)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", timeout=30, limits=limits
        ) as client:
            await wait_until_up(client)
            rng = random.Random(7)
            await open_loop(client, request_mix(rng, int(args.rate * 5), tokens), args.rate / 2)  # warm-up
            started = time.perf_counter()
            measured = await open_loop(
                client, request_mix(rng, int(args.rate * args.duration), tokens), args.rate
            )
            elapsed = time.perf_counter() - started
            submitted = await submissions(
                client, private_pem, elus, offer_id, session_id, args.submitters, args.submit_seconds
            )
    served = len(measured["of_list"]) + len(measured["public_list"])
    metrics = {
        "achieved_rate_per_s": round(served / elapsed, 1),
        "errors": len(measured["errors"]),
        **{f"of_list_{k}": v for k, v in latency_summary_ms(measured["of_list"]).items()},
        **{f"public_list_{k}": v for k, v in latency_summary_ms(measured["public_list"]).items()},
        **submitted,
    }
    params = {
        "dossiers": args.dossiers,
        "target_rate_per_s": args.rate,
        "duration_s": args.duration,
        "submitters": args.submitters,
        "server": "uvicorn, 1 worker, PostgreSQL local, relay/consumers/jobs off",
        "load_generator": "httpx on the same machine (its CPU competes with the server's)",
    }
    write_result("dossier_lists", metrics, params)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--dossiers", type=int, default=1_000_000)
    parser.add_argument("--rate", type=float, default=200.0, help="GETs per second, open loop")
    parser.add_argument("--duration", type=float, default=30.0)
    parser.add_argument("--submitters", type=int, default=8, help="concurrent élus submitting")
    parser.add_argument("--submit-seconds", type=float, default=10.0)
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
