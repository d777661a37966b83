"""Which Kafka producer can carry the relay: the same outbox drain with aiokafka (the relay's producer until
issue 17, one producer batch per partition) and with librdkafka (``confluent-kafka``: servicekit's relay now),
beside Kafka's own ProducerPerformance, in one run.

Run: ``uv run python bench/relay_producers.py [--events 200000]``. Each drain: ``--events`` rows committed in
the bulk lane, then published in batches of ``--batch-size`` chosen by ``servicekit.relay.fetch_batch`` (the
relay's own query and headers), each batch deleted once every record is acknowledged (acks=all, idempotent).
The librdkafka drain is ``servicekit.relay.OutboxRelay`` itself, on a connection with the relay's own
session settings; for it the bench also prints where the CPU goes (microseconds per event of the relay's
process, the Kafka broker and PostgreSQL) and the rate the machine's cores would allow if they did nothing
else: the drain cannot go past that ceiling, whatever the overlap of its steps.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg
import confluent_kafka
from aiokafka.producer.message_accumulator import BatchBuilder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests-e2e"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import load_average, scratch_stack, stack_env, write_result
from faults.supervisor import Stack
from relay import SCHEMA, event, producer_performance
from servicekit.db import make_engine, make_sessionmaker
from servicekit.kafka import ensure_topics, make_producer, make_relay_producer
from servicekit.migrations import upgrade_to_head
from servicekit.outbox import enqueue_many
from servicekit.partitioning import partition_for
from servicekit.relay import RELAY_SESSION_SETTINGS, OutboxRelay, fetch_batch, kafka_headers

PARTITIONS = 12
_DELETE_SQL = "DELETE FROM outbox WHERE id = ANY($1::bigint[])"


async def fill(url: str, count: int) -> None:
    engine = make_engine(url)
    sessionmaker = make_sessionmaker(engine)
    async with sessionmaker() as session, session.begin():
        for chunk in range(0, count, 10_000):
            await enqueue_many(
                session, [event() for _ in range(min(10_000, count - chunk))], source="/dife/b"
            )
    await engine.dispose()


async def drain_aiokafka(dsn: str, bootstrap: str, prefix: str, batch_size: int) -> tuple[int, float]:
    """The relay's former aiokafka path: one producer batch per partition, partitions chosen by
    ``servicekit.partitioning`` (Kafka's default partitioner), every batch awaited before the DELETE."""
    producer = make_producer(bootstrap, client_id="bench-aiokafka")
    await producer.start()
    connection = await asyncpg.connect(dsn, server_settings=RELAY_SESSION_SETTINGS)
    started, total = time.perf_counter(), 0
    while rows := await fetch_batch(connection, batch_size):
        deliveries: list[asyncio.Future[Any]] = []
        builders: dict[tuple[str, int], BatchBuilder] = {}
        for row in rows:
            topic = prefix + row["topic"]
            partitions = producer.client.cluster.partitions_for_topic(topic)
            if not partitions:
                await producer.client._wait_on_metadata(topic)
                partitions = producer.client.cluster.partitions_for_topic(topic)
            partition = partition_for(row["key"], sorted(partitions or ()))
            record = {
                "key": row["key"],
                "value": row["payload"],
                "timestamp": None,
                "headers": kafka_headers(row),
            }
            builder = builders.get((topic, partition))
            if builder is not None and builder.append(**record) is not None:
                continue
            if builder is not None:
                deliveries.append(await producer.send_batch(builder, topic, partition=partition))
            builder = builders[(topic, partition)] = producer.create_batch()
            builder.append(**record)
        for (topic, partition), builder in builders.items():
            deliveries.append(await producer.send_batch(builder, topic, partition=partition))
        await asyncio.gather(*deliveries)
        await connection.execute(_DELETE_SQL, [row["id"] for row in rows])
        total += len(rows)
    elapsed = time.perf_counter() - started
    await connection.close()
    await producer.stop()
    return total, elapsed


async def drain_librdkafka(
    dsn: str, bootstrap: str, prefix: str, batch_size: int
) -> tuple[int, float, dict[str, float]]:
    """servicekit's relay as it runs in a service (librdkafka producer)."""
    producer = make_relay_producer(bootstrap, client_id="bench-librdkafka")
    relay = OutboxRelay(
        dsn=dsn, producer=producer, service_name="bench", topic_prefix=prefix, batch_size=batch_size
    )
    connection = await asyncpg.connect(dsn, server_settings=RELAY_SESSION_SETTINGS)
    stack = Stack(bootstrap, stack_env()["DIFE_PG_ADMIN_URL"])
    cpu_before = {"relay": own_cpu_seconds(), **stack.cpu_seconds()}
    started, total = time.perf_counter(), 0
    while published := await relay.publish_batch(connection):
        total += published
    elapsed = time.perf_counter() - started
    cpu_after = {"relay": own_cpu_seconds(), **stack.cpu_seconds()}
    await connection.close()
    await producer.stop()
    return total, elapsed, cpu_per_event(cpu_before, cpu_after, total)


def own_cpu_seconds() -> float:
    """This process's CPU (the relay's thread and librdkafka's)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_per_event(before: dict[str, float], after: dict[str, float], events: int) -> dict[str, float]:
    """Microseconds of CPU per event of each part, and the rate the machine's cores would allow if they
    did nothing else (where the time goes when the target is missed)."""
    per_event = {part: round((after[part] - before[part]) * 1e6 / events, 2) for part in before}
    return {
        **{f"librdkafka_cpu_us_per_event_{part}": us for part, us in per_event.items()},
        "librdkafka_cpu_ceiling_events_per_s": round((os.cpu_count() or 1) * 1e6 / sum(per_event.values())),
    }


async def main(args: argparse.Namespace) -> None:
    async with scratch_stack("producers") as scratch:
        url, dsn = scratch.database_url, scratch.dsn
        prefix, bootstrap = scratch.topic_prefix, scratch.bootstrap
        metrics: dict[str, Any] = {"load_average_before": load_average()}
        await asyncio.to_thread(upgrade_to_head, SCHEMA, url)
        await ensure_topics(
            bootstrap, [prefix + "dife.ledger.events", prefix + "producer-performance"], partitions=PARTITIONS
        )
        metrics |= await asyncio.to_thread(
            producer_performance, bootstrap, prefix + "producer-performance", args.yardstick_records
        )
        await fill(url, args.events)
        total, elapsed = await drain_aiokafka(dsn, bootstrap, prefix, args.batch_size)
        metrics["aiokafka_relay_events_per_s"] = round(total / elapsed, 1)
        metrics["aiokafka_load_average_after"] = load_average()
        await fill(url, args.events)
        total, elapsed, cpu = await drain_librdkafka(dsn, bootstrap, prefix, args.batch_size)
        metrics["librdkafka_relay_events_per_s"] = round(total / elapsed, 1)
        metrics |= cpu
        metrics["librdkafka_version"] = confluent_kafka.libversion()[0]
        metrics["librdkafka_load_average_after"] = load_average()
        yardstick = metrics["kafka_producer_performance_events_per_s"]
        for producer in ("aiokafka", "librdkafka"):
            rate = metrics[f"{producer}_relay_events_per_s"]
            metrics[f"{producer}_share_of_kafka_rate"] = round(rate / yardstick, 3)
    write_result(
        "relay_producers",
        metrics,
        {"events": args.events, "batch_size": args.batch_size, "partitions": PARTITIONS},
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=200_000)
    parser.add_argument("--batch-size", type=int, default=5000)
    parser.add_argument("--yardstick-records", type=int, default=1_000_000)
    asyncio.run(main(parser.parse_args()))
