"""Outbox lanes (OUTBOX.md, Lanes): interactive events go before bulk ones, and a key's events keep their
order across the two lanes. Real PostgreSQL and Kafka."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from dife_contracts import Envelope
from dife_contracts.events import HoldPlaced
from prometheus_client import REGISTRY
from servicekit.db import plain_url
from servicekit.kafka import DeliveryFailed, RelayProducer
from servicekit.outbox import enqueue, enqueue_many, insert_from_select_params, insert_from_select_sql
from servicekit.relay import _FETCH_SQL, RELAY_SESSION_SETTINGS, OutboxRelay, fetch_batch, kafka_headers
from servicekit.tables import BULK_LANE, INTERACTIVE_LANE
from servicekit.testing import Infra, eventually, running_relay
from servicekit.tracing import current_traceparent
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SOURCE = "/dife/servicekit-tests"
Position = tuple[int, int]  # (partition, offset)


async def positions_on_kafka(
    infra: Infra, topic: str, count: int, timeout_s: float = 90
) -> dict[str, Position]:
    """Where each event (by ce_id) sits on the topic: its partition and offset (first occurrence)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False, max_poll_records=10_000
    )
    await consumer.start()
    found: dict[str, Position] = {}
    try:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        deadline = time.monotonic() + timeout_s
        while len(found) < count and time.monotonic() < deadline:
            for part, records in (await consumer.getmany(timeout_ms=200)).items():
                for record in records:
                    ce_id = dict(record.headers)["ce_id"].decode()
                    found.setdefault(ce_id, (part.partition, record.offset))
    finally:
        await consumer.stop()
    return found


async def lanes(sample_db: str) -> dict[str, int]:
    connection = await asyncpg.connect(plain_url(sample_db))
    try:
        return {str(r["ce_id"]): r["lane"] for r in await connection.fetch("SELECT ce_id, lane FROM outbox")}
    finally:
        await connection.close()


async def test_enqueue_writes_the_interactive_lane_and_bulk_writers_the_bulk_lane(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], new_hold_placed: Callable[..., HoldPlaced]
) -> None:
    async with sessionmaker.begin() as session:
        single = await enqueue(session, new_hold_placed(), source=SOURCE)
        await enqueue_many(session, [new_hold_placed(), new_hold_placed()], source=SOURCE)
        rows_sql = (
            "SELECT gen_random_uuid()::text AS subject, json_build_object('elu_id', gen_random_uuid(), "
            "'hold_id', gen_random_uuid(), 'dossier_id', gen_random_uuid(), 'amount_cents', 1, "
            "'available_after_cents', 0) AS payload"
        )
        await session.execute(
            text(insert_from_select_sql(rows_sql)), insert_from_select_params(HoldPlaced, source=SOURCE)
        )

    by_event = await lanes(sample_db)
    assert by_event.pop(str(single)) == INTERACTIVE_LANE
    assert sorted(by_event.values()) == [BULK_LANE] * 3


async def test_the_relay_sends_the_headers_the_envelope_defines(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], new_hold_placed: Callable[..., HoldPlaced]
) -> None:
    traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
    events = [new_hold_placed(), new_hold_placed()]
    token = current_traceparent.set(traceparent)
    try:
        async with sessionmaker.begin() as session:
            await enqueue(session, events[0], source=SOURCE)
    finally:
        current_traceparent.reset(token)
    async with sessionmaker.begin() as session:
        await enqueue(session, events[1], source=SOURCE)
        # A whole second: Python's isoformat drops the fraction, so the SQL formatting must too.
        await session.execute(text("UPDATE outbox SET ce_time = date_trunc('second', ce_time) WHERE id > 1"))

    connection = await asyncpg.connect(plain_url(sample_db))
    try:
        rows = await fetch_batch(connection, 10)
        stored = {r["id"]: r for r in await connection.fetch("SELECT * FROM outbox")}
    finally:
        await connection.close()

    assert len(rows) == 2
    for row in rows:
        source = stored[row["id"]]
        envelope = Envelope(
            id=str(source["ce_id"]),
            type=source["ce_type"],
            source=source["ce_source"],
            subject=source["ce_subject"],
            time=source["ce_time"],
            data=bytes(source["payload"]),
            traceparent=source["traceparent"],
        )
        assert kafka_headers(row) == envelope.kafka_headers()
        assert row["key"] == envelope.kafka_key()
    assert stored[rows[1]["id"]]["ce_time"].microsecond == 0


def _relay(database_url: str, producer: RelayProducer, topic_prefix: str, *, batch_size: int) -> OutboxRelay:
    """A relay the test drives itself, one `publish_batch` at a time."""
    return OutboxRelay(
        dsn=plain_url(database_url),
        producer=producer,
        service_name="servicekit-tests",
        topic_prefix=topic_prefix,
        batch_size=batch_size,
    )


async def test_an_interactive_event_goes_in_the_first_batch_after_the_earlier_bulk_events_of_its_key(
    infra: Infra,
    sample_db: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    relay_producer: RelayProducer,
    unique_prefix: str,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    """An élu credited by a campaign (bulk, deep in the backlog) then holding (interactive): the hold
    overtakes the backlog but not the élu's own earlier credit."""
    elu = uuid.uuid4()
    backlog = [new_hold_placed() for _ in range(3000)]
    own_bulk = new_hold_placed(elu_id=elu, amount_cents=1)
    async with sessionmaker.begin() as session:
        await enqueue_many(
            session, [*backlog, own_bulk, *(new_hold_placed() for _ in range(500))], source=SOURCE
        )
    async with sessionmaker.begin() as session:
        interactive_id = str(
            await enqueue(session, new_hold_placed(elu_id=elu, amount_cents=2), source=SOURCE)
        )

    relay = _relay(sample_db, relay_producer, unique_prefix, batch_size=100)
    connection = await asyncpg.connect(plain_url(sample_db))
    try:
        first_batch = await relay.publish_batch(connection)
        remaining = await connection.fetchval("SELECT count(*) FROM outbox")
    finally:
        await connection.close()

    assert remaining == 3502 - first_batch, "one batch only"
    assert remaining > 3000, "the interactive event did not wait for the backlog"
    found = await positions_on_kafka(infra, ledger_topic, count=first_batch, timeout_s=20)
    assert interactive_id in found, "the interactive event went in the first batch"
    by_elu = await _elu_events_in_order(infra, ledger_topic, elu, first_batch)
    assert by_elu == [1, 2], "the élu's earlier bulk event first, then the interactive one"


async def test_interactive_rows_found_while_bulk_rows_wait_go_alone_and_the_next_batch_is_bulk_again(
    sample_db: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    relay_producer: RelayProducer,
    unique_prefix: str,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    """An interactive row is acknowledged without waiting for a batch of bulk records; an interactive row in
    every fetch still lets the bulk lane fill every other batch (never starved)."""
    async with sessionmaker.begin() as session:
        await enqueue_many(session, [new_hold_placed() for _ in range(100)], source=SOURCE)
    relay = _relay(sample_db, relay_producer, unique_prefix, batch_size=10)
    connection = await asyncpg.connect(plain_url(sample_db))
    sizes: list[int] = []
    try:
        for _ in range(3):
            async with sessionmaker.begin() as session:
                await enqueue(session, new_hold_placed(), source=SOURCE)
            sizes.append(await relay.publish_batch(connection))
        sizes.append(await relay.publish_batch(connection))
        left = await connection.fetch("SELECT lane FROM outbox")
    finally:
        await connection.close()

    assert sizes == [1, 10, 1, 10], "alone, then with 9 bulk rows, alone, then 10 bulk rows"
    assert [row["lane"] for row in left] == [1] * 81


async def _elu_events_in_order(infra: Infra, topic: str, elu: uuid.UUID, count: int) -> list[int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=infra.kafka_bootstrap, enable_auto_commit=False)
    await consumer.start()
    amounts: list[int] = []
    try:
        await consumer._client.force_metadata_update()
        partitions = consumer.partitions_for_topic(topic) or set()
        consumer.assign([TopicPartition(topic, p) for p in partitions])
        await consumer.seek_to_beginning()
        seen, deadline = 0, time.monotonic() + 20
        while seen < count and time.monotonic() < deadline:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    seen += 1
                    event = Envelope.from_kafka(record.key, record.value, record.headers).parse()
                    if isinstance(event, HoldPlaced) and event.elu_id == elu:
                        amounts.append(event.amount_cents)
    finally:
        await consumer.stop()
    return amounts


async def test_an_interactive_event_published_while_100000_bulk_rows_drain_reaches_kafka_before_them(
    infra: Infra,
    sample_db: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    relay_producer: RelayProducer,
    unique_prefix: str,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    """Bound: on its partition, at most the batches already chosen when it committed (2 x batch size) of the
    bulk events still pending after its commit precede it; thousands of them follow it."""
    batch_size = 500
    for _ in range(10):
        async with sessionmaker.begin() as session:
            await enqueue_many(session, [new_hold_placed() for _ in range(10_000)], source=SOURCE)

    async with running_relay(sample_db, relay_producer, unique_prefix, batch_size=batch_size) as relay:
        assert await eventually(lambda: _published(relay, batch_size), timeout_s=30, interval_s=0.005)
        async with sessionmaker.begin() as session:
            interactive_id = str(await enqueue(session, new_hold_placed(), source=SOURCE))
        # Read just after the commit: a subset of the bulk rows pending at it (read inside the transaction,
        # the relay could choose one more batch before the commit landed and the count would be off by it).
        async with sessionmaker.begin() as session:
            pending = await session.execute(text("SELECT ce_id::text FROM outbox WHERE lane = 1"))
            pending_bulk = {row[0] for row in pending}
        assert await eventually(lambda: _published(relay, 100_001), timeout_s=120)

    assert len(pending_bulk) > 50_000, "the backlog was still large when it committed"
    found = await positions_on_kafka(infra, ledger_topic, count=100_001)
    assert len(found) == 100_001
    partition, offset = found[interactive_id]
    same_partition = [found[ce_id][1] for ce_id in pending_bulk if found[ce_id][0] == partition]
    before = sum(1 for other in same_partition if other < offset)
    assert before <= 2 * batch_size
    assert len(same_partition) - before > 1000


async def _published(relay: OutboxRelay, count: int) -> bool:
    await asyncio.sleep(0)
    return relay.published_total >= count


async def test_published_events_are_counted_by_topic_and_event_type(
    sample_db: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    relay_producer: RelayProducer,
    unique_prefix: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    service = f"metrics-{uuid.uuid4().hex[:8]}"
    async with sessionmaker.begin() as session:
        await enqueue_many(session, [new_hold_placed() for _ in range(3)], source=SOURCE)
    relay = OutboxRelay(
        dsn=plain_url(sample_db), producer=relay_producer, service_name=service, topic_prefix=unique_prefix
    )
    connection = await asyncpg.connect(plain_url(sample_db))
    try:
        assert await relay.publish_batch(connection) == 3
    finally:
        await connection.close()

    published = REGISTRY.get_sample_value(
        "dife_events_published_total",
        {"service": service, "topic": HoldPlaced.topic, "type": HoldPlaced.ce_type},
    )
    assert published == 3


async def test_a_fetch_planned_while_the_outbox_was_empty_still_reads_it_by_its_indexes_once_full(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], new_hold_placed: Callable[..., HoldPlaced]
) -> None:
    """The relay's statement is planned (and the plan kept) while the outbox is empty; a campaign then
    commits 600,000 rows. That kept plan must not scan the outbox once per chosen row."""
    connection = await asyncpg.connect(plain_url(sample_db), server_settings=RELAY_SESSION_SETTINGS)
    try:
        await connection.execute("ALTER TABLE outbox SET (autovacuum_enabled = false); ANALYZE outbox")
        await connection.execute("SET plan_cache_mode = force_generic_plan")  # kept, as a prepared one is
        await connection.execute(f"PREPARE relay_fetch(int, bool) AS {_FETCH_SQL}")
        await connection.execute("EXECUTE relay_fetch(1000, false)")  # planned now, on an empty outbox
        async with sessionmaker.begin() as session:
            await enqueue_many(session, [new_hold_placed() for _ in range(20_000)], source=SOURCE)
        plan = "\n".join(row[0] for row in await connection.fetch("EXPLAIN EXECUTE relay_fetch(1000, false)"))
    finally:
        await connection.close()

    assert "Seq Scan" not in plan, plan


_OLDEST_PAYLOAD_SQL = "UPDATE outbox SET payload = $1 WHERE id = (SELECT min(id) FROM outbox)"


async def _ce_ids(connection: asyncpg.Connection) -> list[str]:
    return [str(row["ce_id"]) for row in await connection.fetch("SELECT ce_id FROM outbox ORDER BY id")]


async def test_a_batch_sends_the_interactive_rows_with_their_keys_earlier_bulk_rows_first_then_bulk_rows(
    sample_db: str, sessionmaker: async_sessionmaker[AsyncSession], new_hold_placed: Callable[..., HoldPlaced]
) -> None:
    """Within a batch: the urgent rows and their keys' older bulk rows in id order, then the bulk rows in id
    order. The interactive answer does not wait behind the batch's bulk rows, and its key keeps its order."""
    elu = uuid.uuid4()
    async with sessionmaker.begin() as session:
        await enqueue_many(
            session,
            [new_hold_placed(), new_hold_placed(elu_id=elu, amount_cents=1), new_hold_placed()],
            source=SOURCE,
        )
    async with sessionmaker.begin() as session:
        await enqueue(session, new_hold_placed(elu_id=elu, amount_cents=2), source=SOURCE)
    connection = await asyncpg.connect(plain_url(sample_db))
    try:
        bulk_1, own_bulk, bulk_3, interactive = await _ce_ids(connection)
        rows = await fetch_batch(connection, 10)
    finally:
        await connection.close()

    assert [row["ce_id"].decode() for row in rows] == [own_bulk, interactive, bulk_1, bulk_3]


async def test_a_batch_kafka_refuses_stays_in_the_outbox_nothing_behind_it_is_sent_and_nothing_is_lost(
    infra: Infra,
    sample_db: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    relay_producer: RelayProducer,
    unique_prefix: str,
    topic_refusing_large_records: Callable[[str], Awaitable[str]],
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    """Kafka refuses a batch: its rows stay, the relay starts again from them (never from the rows behind
    them), and once Kafka takes them every event is on the topic, in order."""
    prefix = unique_prefix + "refusing."
    topic = await topic_refusing_large_records(prefix + HoldPlaced.topic)
    async with sessionmaker.begin() as session:
        await enqueue_many(session, [new_hold_placed() for _ in range(4)], source=SOURCE)
    relay = _relay(sample_db, relay_producer, prefix, batch_size=2)
    connection = await asyncpg.connect(plain_url(sample_db))
    try:
        in_order = await _ce_ids(connection)
        original = await connection.fetchval("SELECT payload FROM outbox ORDER BY id LIMIT 1")
        await connection.execute(_OLDEST_PAYLOAD_SQL, b"x" * 10_000)  # above what the topic takes
        for _ in range(2):
            with pytest.raises(DeliveryFailed):
                await relay.publish_batch(connection)
            assert await _ce_ids(connection) == in_order, (
                "nothing deleted, nothing sent past the refused rows"
            )
        await connection.execute(_OLDEST_PAYLOAD_SQL, original)
        while await relay.publish_batch(connection):
            pass
    finally:
        await connection.close()

    found = await positions_on_kafka(infra, topic, count=4)
    assert sorted(found, key=lambda ce_id: found[ce_id]) == in_order
