"""Topic housekeeping on the real broker."""

from __future__ import annotations

import uuid

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from servicekit.kafka import delete_topics, ensure_topics
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


async def test_delete_topics_refuses_an_empty_prefix(infra: Infra) -> None:
    with pytest.raises(ValueError, match="prefix"):
        await delete_topics(infra.kafka_bootstrap, "")
