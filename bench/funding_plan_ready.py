"""Funding benchmark: OF validation → `plan_ready` latency of a DIFE-only plan, at a fixed rate.

Run: ``uv run python bench/funding_plan_ready.py [--dossiers 300 --rate 50]``. The funding app runs in this
process with its consumers and relay on real Kafka and PostgreSQL; a stand-in ledger answers every
`dife_hold_requested` with `hold_placed` at once (the real ledger's own time is measured by its benchmarks).
Measured: from the moment `dossier_validated` is acknowledged by Kafka to the moment `plan_ready` is read from
Kafka — two consumer hops, two relay hops, and the stand-in's publish.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from dife_contracts import Envelope, topics
from dife_contracts.enums import TrainingPurpose
from dife_contracts.events import DifeHoldRequested, DossierValidated, HoldPlaced

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import latency_summary_ms, stack_env, write_result
from funding.app import create_app
from funding.settings import Settings
from servicekit.migrations import upgrade_to_head

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "services" / "funding" / "alembic.ini"
PRICE = 56_000


async def create_database(admin_url: str) -> str:
    name = f"bench_funding_{uuid.uuid4().hex[:8]}"
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    base = admin_url.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1)
    return f"{base}/{name}"


async def seed_balances(database_url: str, elus: list[uuid.UUID]) -> None:
    connection = await asyncpg.connect(database_url.replace("+asyncpg", ""))
    try:
        await connection.copy_records_to_table(
            "dife_balances", records=[(elu, 80_000) for elu in elus], columns=["elu_id", "available_cents"]
        )
    finally:
        await connection.close()


def validated(elu_id: uuid.UUID) -> DossierValidated:
    return DossierValidated(
        dossier_id=uuid.uuid4(),
        elu_id=elu_id,
        offer_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        siret="12345678900011",
        purpose=TrainingPurpose.MANDATE,
        price_cents=PRICE,
        hours=Decimal("7"),
        training_start=date(2027, 3, 15),
        training_end=date(2027, 3, 16),
        validated_at=datetime.now(UTC),
        answer_deadline=date(2027, 3, 1),
    )


async def send(producer: AIOKafkaProducer, topic: str, envelope: Envelope) -> None:
    await producer.send_and_wait(
        topic, value=envelope.data, key=envelope.kafka_key(), headers=envelope.kafka_headers()
    )


async def stand_in_ledger(
    bootstrap: str, prefix: str, producer: AIOKafkaProducer, ready_at: dict[str, float], expected: int
) -> None:
    """Answer each hold request at once; note when each plan_ready arrives."""
    consumer = AIOKafkaConsumer(
        prefix + topics.FUNDING,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        fetch_max_wait_ms=5,
        group_id=f"bench-ledger-{uuid.uuid4().hex[:6]}",
    )
    await consumer.start()
    try:
        while len(ready_at) < expected:
            batches = await consumer.getmany(timeout_ms=100)
            for records in batches.values():
                for record in records:
                    envelope = Envelope.from_kafka(record.key, record.value, record.headers)
                    if envelope.type == "dife.funding.plan_ready.v1":
                        ready_at[envelope.subject] = time.perf_counter()
                    elif envelope.type == DifeHoldRequested.ce_type:
                        request = envelope.parse()
                        assert isinstance(request, DifeHoldRequested)
                        placed = HoldPlaced(
                            elu_id=request.elu_id,
                            hold_id=uuid.uuid4(),
                            dossier_id=request.dossier_id,
                            amount_cents=request.amount_cents,
                            available_after_cents=80_000 - request.amount_cents,
                        )
                        await send(
                            producer,
                            prefix + topics.LEDGER,
                            Envelope.wrap(placed, source="/dife/rights-ledger"),
                        )
    finally:
        await consumer.stop()


async def main(dossiers: int, rate: float) -> None:
    env = stack_env()
    database_url = await create_database(env["DIFE_PG_ADMIN_URL"])
    await asyncio.to_thread(upgrade_to_head, ALEMBIC_INI, database_url)
    elus = [uuid.uuid4() for _ in range(dossiers)]
    await seed_balances(database_url, elus)
    prefix = f"bench.{uuid.uuid4().hex[:8]}."
    settings = Settings(
        environment="dev",
        database_url=database_url,
        kafka_bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"],
        topic_prefix=prefix,
        topic_partitions=1,
        log_level="WARNING",
    )
    app = create_app(settings)
    producer = AIOKafkaProducer(bootstrap_servers=env["KAFKA_BOOTSTRAP_SERVERS"], linger_ms=0)
    await producer.start()
    sent_at: dict[str, float] = {}
    ready_at: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        ledger = asyncio.create_task(
            stand_in_ledger(env["KAFKA_BOOTSTRAP_SERVERS"], prefix, producer, ready_at, dossiers)
        )
        await asyncio.sleep(3)  # consumer groups join
        started = time.perf_counter()
        for index, elu in enumerate(elus):
            event = validated(elu)
            await send(producer, prefix + topics.DOSSIER, Envelope.wrap(event, source="/dife/dossier"))
            sent_at[str(event.dossier_id)] = time.perf_counter()
            pause = started + (index + 1) / rate - time.perf_counter()
            if pause > 0:
                await asyncio.sleep(pause)
        await asyncio.wait_for(ledger, timeout=120)
        elapsed = time.perf_counter() - started
    await producer.stop()
    latencies = [ready_at[d] - sent_at[d] for d in sent_at if d in ready_at]
    write_result(
        "funding_plan_ready",
        {
            **latency_summary_ms(latencies),
            "plans_ready": len(latencies),
            "plans_per_s": round(len(latencies) / elapsed, 1),
        },
        {"dossiers": dossiers, "offered_rate_per_s": rate, "partitions": 1, "ledger": "stand-in, instant"},
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dossiers", type=int, default=300)
    parser.add_argument("--rate", type=float, default=50.0)
    args = parser.parse_args()
    asyncio.run(main(args.dossiers, args.rate))
