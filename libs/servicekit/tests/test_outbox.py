"""The transactional outbox and its relay, on real PostgreSQL and Kafka (guarantees listed in OUTBOX.md)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable

import asyncpg
import pytest
from dife_contracts.events import HoldPlaced
from prometheus_client import REGISTRY
from servicekit.db import plain_url
from servicekit.kafka import RelayProducer, make_relay_producer
from servicekit.outbox import enqueue, enqueue_many, insert_from_select_params, insert_from_select_sql
from servicekit.relay import OutboxRelay
from servicekit.tables import outbox
from servicekit.testing import Infra, collect, eventually, read_to_end, running_relay
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

SOURCE = "/dife/servicekit-tests"


async def outbox_rows(sessionmaker: async_sessionmaker[AsyncSession]) -> int:
    async with sessionmaker() as session:
        return int(await session.scalar(select(func.count()).select_from(outbox)) or 0)


async def test_an_event_of_a_committed_transaction_reaches_kafka_as_a_binary_mode_cloudevent(
    infra: Infra,
    sample_db: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    relay_producer: RelayProducer,
    unique_prefix: str,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    event = new_hold_placed()
    async with sessionmaker.begin() as session:
        event_id = await enqueue(session, event, source=SOURCE)

    async with running_relay(sample_db, relay_producer, unique_prefix):
        received = await collect(infra, ledger_topic, count=1)
        # Deleted right after Kafka's acknowledgement, which can come a moment after the consumer saw it.
        assert await eventually(lambda: _outbox_empty(sessionmaker), timeout_s=10), "a published row leaves"

    assert len(received) == 1
    envelope = received[0]
    assert envelope.id == str(event_id)
    assert envelope.type == "dife.ledger.hold_placed.v1"
    assert envelope.subject == str(event.elu_id)
    assert envelope.source == SOURCE
    assert envelope.parse() == event


async def test_an_event_of_a_rolled_back_transaction_never_reaches_kafka(
    infra: Infra,
    sample_db: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    relay_producer: RelayProducer,
    unique_prefix: str,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    rolled_back = new_hold_placed()
    with pytest.raises(RuntimeError):
        async with sessionmaker.begin() as session:
            await enqueue(session, rolled_back, source=SOURCE)
            raise RuntimeError("the state change failed after the event was written")
    committed_after = new_hold_placed(elu_id=rolled_back.elu_id)
    async with sessionmaker.begin() as session:
        await enqueue(session, committed_after, source=SOURCE)

    async with running_relay(sample_db, relay_producer, unique_prefix):
        # Same key, so same partition: once the later event is there, the earlier one would be too.
        # The partition's first record: the rolled-back event if it had been published, else the later one.
        received = await collect(infra, ledger_topic, count=1, timeout_s=60)

    assert [envelope.parse() for envelope in received] == [committed_after]


async def test_a_relay_killed_mid_batch_and_restarted_delivers_every_event_in_key_order(
    infra: Infra,
    sample_db: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    unique_prefix: str,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    elus = [uuid.uuid4() for _ in range(10)]
    # amount_cents numbers each élu's events 1..N so the order per key can be checked on Kafka.
    # 6,000 events and a 5 ms look: librdkafka publishes 1,200 in well under the 0.1 s a coarser look takes,
    # and the relay must still have rows left when it is killed.
    written = [new_hold_placed(elu_id=elu, amount_cents=n) for n in range(1, 601) for elu in elus]
    for start in range(0, len(written), 100):
        async with sessionmaker.begin() as session:
            await enqueue_many(session, written[start : start + 100], source=SOURCE)

    first_producer = make_relay_producer(infra.kafka_bootstrap, client_id="relay-to-kill")
    async with running_relay(sample_db, first_producer, unique_prefix, batch_size=50) as relay:
        assert await eventually(lambda: _at_least(relay, 300), timeout_s=30, interval_s=0.005)
    # The relay task was cancelled wherever it stood: between sends, awaiting acks, or before its DELETE.
    await first_producer.stop()
    remaining = await outbox_rows(sessionmaker)
    assert 0 < remaining < len(written), "the kill must land mid-stream for this test to mean anything"

    second_producer = make_relay_producer(infra.kafka_bootstrap, client_id="relay-restarted")
    async with running_relay(sample_db, second_producer, unique_prefix, batch_size=50):
        assert await eventually(lambda: _outbox_empty(sessionmaker), timeout_s=60)
    await second_producer.stop()

    received = await read_to_end(infra, ledger_topic)
    payloads = [envelope.parse() for envelope in received]
    assert {e.hold_id for e in payloads} == {e.hold_id for e in written}, "no event lost"
    for elu in elus:
        firsts: list[int] = []
        for event in payloads:
            assert isinstance(event, HoldPlaced)
            if event.elu_id == elu and event.amount_cents not in firsts:
                firsts.append(event.amount_cents)
        assert firsts == sorted(firsts), f"events of élu {elu} out of order"


async def _at_least(relay: OutboxRelay, count: int) -> bool:
    return relay.published_total >= count


async def _outbox_empty(sessionmaker: async_sessionmaker[AsyncSession]) -> bool:
    return await outbox_rows(sessionmaker) == 0


async def test_the_relay_is_woken_by_notify_without_waiting_for_its_poll(
    infra: Infra,
    sample_db: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    relay_producer: RelayProducer,
    unique_prefix: str,
    ledger_topic: str,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    async with running_relay(sample_db, relay_producer, unique_prefix, poll_interval_s=60) as relay:
        assert await eventually(lambda: _is_active(relay), timeout_s=10)
        await asyncio.sleep(0.3)  # the relay is now idle, waiting on NOTIFY for up to 60 s
        async with sessionmaker.begin() as session:
            await enqueue(session, new_hold_placed(), source=SOURCE)
        loop = asyncio.get_running_loop()
        started = loop.time()
        assert await eventually(lambda: _at_least(relay, 1), timeout_s=5, interval_s=0.01)
        assert loop.time() - started < 5, "published long before the 60 s poll"


async def _is_active(relay: OutboxRelay) -> bool:
    return relay.is_active


async def test_only_one_relay_is_active_per_service_database(
    infra: Infra, sample_db: str, relay_producer: RelayProducer, unique_prefix: str
) -> None:
    async with running_relay(sample_db, relay_producer, unique_prefix) as first:
        assert await eventually(lambda: _is_active(first), timeout_s=10)
        async with running_relay(sample_db, relay_producer, unique_prefix, standby_retry_s=0.1) as second:
            await asyncio.sleep(1.0)
            assert first.is_active and not second.is_active
        # The standby takes over when the active one goes away: proven by a fresh relay after `first` stops.
    async with running_relay(sample_db, relay_producer, unique_prefix) as third:
        assert await eventually(lambda: _is_active(third), timeout_s=10)


async def test_events_built_by_sql_in_the_state_changing_statement_reach_kafka_and_parse(
    infra: Infra,
    sample_db: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    relay_producer: RelayProducer,
    unique_prefix: str,
    ledger_topic: str,
) -> None:
    elu_id, hold_id, dossier_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    rows_sql = (
        "SELECT CAST(:elu AS text) AS subject, json_build_object("
        "'elu_id', CAST(:elu AS uuid), 'hold_id', CAST(:hold AS uuid), 'dossier_id', CAST(:dossier AS uuid), "
        "'amount_cents', 12345, 'available_after_cents', 0) AS payload"
    )
    async with sessionmaker.begin() as session:
        await session.execute(
            text(insert_from_select_sql(rows_sql)),
            {
                **insert_from_select_params(HoldPlaced, source=SOURCE),
                "elu": str(elu_id),
                "hold": str(hold_id),
                "dossier": str(dossier_id),
            },
        )

    async with running_relay(sample_db, relay_producer, unique_prefix):
        received = await collect(infra, ledger_topic, count=1)

    assert [envelope.parse() for envelope in received] == [
        HoldPlaced(
            elu_id=elu_id, hold_id=hold_id, dossier_id=dossier_id, amount_cents=12345, available_after_cents=0
        )
    ]
    assert received[0].subject == str(elu_id)


async def test_the_relay_reports_the_backlog_and_the_age_of_its_oldest_row(
    sample_db: str,
    sessionmaker: async_sessionmaker[AsyncSession],
    relay_producer: RelayProducer,
    new_hold_placed: Callable[..., HoldPlaced],
) -> None:
    """What the stuck-relay alert reads: rows waiting and how long the oldest has waited."""
    async with sessionmaker.begin() as session:
        for _ in range(3):
            await enqueue(session, new_hold_placed())
        await session.execute(
            text("UPDATE outbox SET created_at = clock_timestamp() - interval '90 seconds'")
        )
    relay = OutboxRelay(
        dsn=plain_url(sample_db), producer=relay_producer, service_name="backlog-test", topic_prefix="x."
    )
    connection = await asyncpg.connect(plain_url(sample_db))
    try:
        await relay._measure_backlog(connection)
    finally:
        await connection.close()
    labels = {"service": "backlog-test"}
    assert REGISTRY.get_sample_value("dife_outbox_backlog", labels) == 3
    oldest = REGISTRY.get_sample_value("dife_outbox_oldest_age_seconds", labels)
    assert oldest is not None and 90 <= oldest < 150
