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
from common import Scratch, latency_summary_ms, scratch_stack, write_result
from funding.app import create_app
from funding.settings import Settings
from servicekit.migrations import upgrade_to_head

ALEMBIC_INI = Path(__file__).resolve().parent.parent / "services" / "funding" / "alembic.ini"
PRICE = 56_000


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


async def measure(scratch: Scratch, dossiers: int, rate: float) -> tuple[list[float], float]:
    """Each plan's latency, and the seconds from the first dossier sent to the last plan read."""
    database_url, prefix, bootstrap = scratch.database_url, scratch.topic_prefix, scratch.bootstrap
    await asyncio.to_thread(upgrade_to_head, ALEMBIC_INI, database_url)
    elus = [uuid.uuid4() for _ in range(dossiers)]
    await seed_balances(database_url, elus)
    settings = Settings(
        environment="dev",
        database_url=database_url,
        kafka_bootstrap_servers=bootstrap,
        topic_prefix=prefix,
        topic_partitions=1,
        log_level="WARNING",
    )
    app = create_app(settings)
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=0)
    await producer.start()
    sent_at: dict[str, float] = {}
    ready_at: dict[str, float] = {}
    async with app.router.lifespan_context(app):
        ledger = asyncio.create_task(stand_in_ledger(bootstrap, prefix, producer, ready_at, dossiers))
        try:
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
        finally:  # even after an error: a live client would have the deleted topics created again
            ledger.cancel()
            await asyncio.gather(ledger, return_exceptions=True)
            await producer.stop()
    return [ready_at[d] - sent_at[d] for d in sent_at if d in ready_at], elapsed


async def main(dossiers: int, rate: float) -> None:
    async with scratch_stack("funding") as scratch:
        latencies, elapsed = await measure(scratch, dossiers, rate)
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
