"""Events seen on the platform's topics, as conditions a journey can wait on instead of polling a service.

A journey waiting for funding's `plan_ready` used to ask the dossier service every 0.3 s (each a POST refused
with R-FUN-4); with 40 journeys waiting, those refusals were most of the dossier service's work and slowed
the very consumer that was to record the plan. `EventWatch` reads the topics once, in the harness, and wakes
the journey whose event arrived.

It reads without a consumer group (partitions assigned, from offset 0), so it commits nothing and no
service's lag or replay sees it; a broker restart only pauses it (aiokafka reconnects by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError


class EventWatch:
    """Which (subject, CloudEvents type) pairs appeared on `topics`; `wait` until one does, `wait_consumed`
    until a consumer group has also committed past it (the service behind the group has recorded it)."""

    def __init__(self, bootstrap: str, topics: list[str]) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.seen: set[tuple[str, str]] = set()
        self.first_seen_ms: dict[tuple[str, str], int] = {}
        self.position: dict[tuple[str, str], tuple[TopicPartition, int]] = {}
        self._waiters: dict[tuple[str, str], list[asyncio.Future[None]]] = defaultdict(list)
        self._task: asyncio.Task[None] | None = None
        self._committed: dict[str, dict[TopicPartition, int]] = {}
        self._commits_moved = asyncio.Condition()
        self._offset_readers: dict[str, asyncio.Task[None]] = {}
        self.errors = 0

    async def __aenter__(self) -> EventWatch:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap,
            enable_auto_commit=False,
            isolation_level="read_committed",
            fetch_max_wait_ms=50,
        )
        await consumer.start()
        partitions = [
            TopicPartition(topic, number)
            for topic in self.topics
            for number in sorted(await self._partitions(consumer, topic))
        ]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        self._task = asyncio.create_task(self._read(consumer))
        return self

    async def __aexit__(self, *_: object) -> None:
        for task in [*self._offset_readers.values(), *([self._task] if self._task else [])]:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    @staticmethod
    async def _partitions(consumer: AIOKafkaConsumer, topic: str) -> set[int]:
        for _ in range(50):
            found = consumer.partitions_for_topic(topic)
            if found:
                return set(found)
            await consumer._client.force_metadata_update()
            await asyncio.sleep(0.2)
        raise AssertionError(f"topic {topic} has no partitions in the broker's metadata")

    async def _read(self, consumer: AIOKafkaConsumer) -> None:
        try:
            while True:
                try:
                    batches = await consumer.getmany(timeout_ms=500)
                except (KafkaError, OSError):  # the broker restarting: aiokafka reconnects, reading resumes
                    self.errors += 1
                    await asyncio.sleep(0.5)
                    continue
                for records in batches.values():
                    for record in records:
                        headers = {k: (v or b"").decode() for k, v in record.headers}
                        key = (headers.get("ce_subject", ""), headers.get("ce_type", ""))
                        where = (TopicPartition(record.topic, record.partition), record.offset)
                        self._saw(key, record.timestamp, where)
        finally:
            await consumer.stop()

    def _saw(self, key: tuple[str, str], timestamp_ms: int, where: tuple[TopicPartition, int]) -> None:
        if key in self.seen:
            return
        self.seen.add(key)
        self.position[key] = where
        self.first_seen_ms[key] = timestamp_ms
        for waiter in self._waiters.pop(key, []):
            if not waiter.done():
                waiter.set_result(None)

    async def wait(self, subject: str, event_type: str, *, timeout_s: float) -> bool:
        """True once the event is (or was already) on a topic; False after `timeout_s`."""
        key = (subject, event_type)
        if key in self.seen:
            return True
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters[key].append(waiter)
        try:
            async with asyncio.timeout(timeout_s):
                await waiter
            return True
        except TimeoutError:
            return False

    async def wait_consumed(self, subject: str, event_type: str, group: str, *, timeout_s: float) -> bool:
        """True once the event is on its topic and `group` has committed an offset past it: one request
        for the group's offsets every 0.2 s serves every waiting journey, instead of each asking the
        service again and again. False after `timeout_s`."""
        started = asyncio.get_running_loop().time()
        if not await self.wait(subject, event_type, timeout_s=timeout_s):
            return False
        tp, offset = self.position[(subject, event_type)]
        if group not in self._offset_readers:
            self._offset_readers[group] = asyncio.create_task(self._read_offsets(group))
        left = timeout_s - (asyncio.get_running_loop().time() - started)
        try:
            async with asyncio.timeout(max(left, 0.1)), self._commits_moved:
                await self._commits_moved.wait_for(lambda: self._committed.get(group, {}).get(tp, 0) > offset)
            return True
        except TimeoutError:
            return False

    async def _read_offsets(self, group: str) -> None:
        admin: AIOKafkaAdminClient | None = None
        try:
            while True:
                try:
                    if admin is None:
                        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
                        await admin.start()
                    committed = await admin.list_consumer_group_offsets(group)
                except Exception:  # the broker restarting, the group's coordinator loading: a new client
                    self.errors += 1
                    if admin is not None:
                        with contextlib.suppress(Exception):
                            await admin.close()
                        admin = None
                    await asyncio.sleep(1)
                    continue
                async with self._commits_moved:
                    self._committed[group] = {tp: meta.offset for tp, meta in committed.items()}
                    self._commits_moved.notify_all()
                await asyncio.sleep(0.2)
        finally:
            if admin is not None:
                await admin.close()
