"""Consumer groups of a run: their lag, and rewinding them to offset 0 for the replay."""

from __future__ import annotations

import asyncio
import time

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError
from aiokafka.structs import OffsetAndMetadata


async def _groups(admin: AIOKafkaAdminClient, prefix: str | tuple[str, ...]) -> list[str]:
    return sorted(group for group, _ in await admin.list_consumer_groups() if group.startswith(prefix))


async def group_lags(bootstrap: str, prefix: str | tuple[str, ...]) -> dict[str, int]:
    """Per consumer group under `prefix` (or any of several): Σ (end offset − committed offset) over the
    partitions it reads."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    probe = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    await probe.start()
    try:
        lags = {}
        for group in await _groups(admin, prefix):
            committed = await admin.list_consumer_group_offsets(group)
            if not committed:
                lags[group] = 0
                continue
            ends = await probe.end_offsets(list(committed))
            lags[group] = sum(max(0, ends[tp] - meta.offset) for tp, meta in committed.items())
        return lags
    finally:
        await probe.stop()
        await admin.close()


async def wait_caught_up(
    bootstrap: str, prefix: str | tuple[str, ...], *, timeout_s: float, settle_s: float = 2.0
) -> dict[str, int]:
    """Until every group's lag is 0 twice `settle_s` apart (events beget events); returns the last lags.
    `prefix` names the groups read now: a group left behind by a replay would never catch up."""
    deadline = time.monotonic() + timeout_s
    lags: dict[str, int] = {}
    while time.monotonic() < deadline:
        try:
            lags = await group_lags(bootstrap, prefix)
            if lags and not any(lags.values()):
                await asyncio.sleep(settle_s)
                again = await group_lags(bootstrap, prefix)
                if not any(again.values()):
                    return again
        except KafkaError as error:
            if not error.retriable:  # e.g. the coordinator still loading its groups after a broker restart
                raise
        await asyncio.sleep(0.5)
    return lags


async def rewind_groups(bootstrap: str, prefix: str) -> dict[str, int]:
    """Commit offset 0 on every partition each group under `prefix` had read (its members must be stopped).

    A service restarted afterwards re-reads every topic from the start in its OWN group, so each event meets
    the inbox row it left the first time: this is the replay that the inbox must make a no-op."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    rewound = {}
    try:
        for group in await _groups(admin, prefix):
            committed = await admin.list_consumer_group_offsets(group)
            if not committed:
                continue
            consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
            await consumer.start()
            try:
                consumer.assign(list(committed))
                await consumer.commit({tp: OffsetAndMetadata(0, "") for tp in committed})
            finally:
                await consumer.stop()
            rewound[group] = sum(meta.offset for meta in committed.values())
        return rewound
    finally:
        await admin.close()


def partitions_of(committed: dict[TopicPartition, OffsetAndMetadata]) -> list[TopicPartition]:
    return sorted(committed, key=lambda tp: (tp.topic, tp.partition))
