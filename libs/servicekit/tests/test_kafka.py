"""Topic housekeeping and the relay's producer, on the real broker."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from servicekit.kafka import DeliveryFailed, delete_topics, ensure_topics, make_relay_producer
from servicekit.testing import Infra, eventually


async def _topics(infra: Infra) -> set[str]:
    admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
    await admin.start()
    try:
        return set(await admin.list_topics())
    finally:
        await admin.close()


async def test_ensure_topics_creates_the_missing_and_delete_topics_removes_only_the_prefixed(
    infra: Infra,
) -> None:
    prefix = f"housekeeping.{uuid.uuid4().hex[:8]}."
    other = f"housekeeping.{uuid.uuid4().hex[:8]}.kept"
    await ensure_topics(infra.kafka_bootstrap, [prefix + "a", prefix + "b", other], partitions=1)
    await ensure_topics(infra.kafka_bootstrap, [prefix + "a"], partitions=1)  # already there: no error
    assert {prefix + "a", prefix + "b", other} <= await _topics(infra)

    assert await delete_topics(infra.kafka_bootstrap, prefix) == 2

    async def gone() -> bool:
        return not {prefix + "a", prefix + "b"} & await _topics(infra)

    assert await eventually(gone, timeout_s=15)
    assert other in await _topics(infra)
    await delete_topics(infra.kafka_bootstrap, other)


async def test_ensure_topics_says_at_once_which_topic_the_broker_refused_and_why(infra: Infra) -> None:
    valid = f"housekeeping.{uuid.uuid4().hex[:8]}.valid"
    invalid = f"housekeeping.{uuid.uuid4().hex[:8]}.has a space"
    with pytest.raises(ValueError, match=r"refused.*has a space.*InvalidTopicError") as refused:
        await ensure_topics(infra.kafka_bootstrap, [valid, invalid], partitions=1)
    assert "valid'" not in str(refused.value), "only the refused topic is named"
    await delete_topics(infra.kafka_bootstrap, valid)


async def test_delete_topics_refuses_an_empty_prefix(infra: Infra) -> None:
    with pytest.raises(ValueError, match="prefix"):
        await delete_topics(infra.kafka_bootstrap, "")


async def test_the_relay_producer_raises_when_kafka_refuses_a_record_and_not_after_a_clean_batch(
    infra: Infra, topic_refusing_large_records: Callable[[str], Awaitable[str]]
) -> None:
    """Delivery reports come for failed records only: a refused one still fails its batch (the relay then
    keeps the rows), and the next batch, all acknowledged, does not inherit that failure."""
    topic = await topic_refusing_large_records(f"refusing.{uuid.uuid4().hex[:8]}")
    producer = make_relay_producer(infra.kafka_bootstrap, client_id="servicekit-tests-refused")
    small = (topic, b"key", b"x" * 100, [("ce_id", b"1")])
    too_large = (topic, b"key", b"x" * 10_000, [("ce_id", b"2")])
    try:
        with pytest.raises(DeliveryFailed, match=r"records refused by Kafka.*MSG_SIZE_TOO_LARGE"):
            await producer.send_all([small, too_large])

        await producer.send_all([small, small])
    finally:
        await producer.stop()
