"""What an integrator outside the platform has: records of `dife.dossier.events` and the JSON Schemas the
platform publishes (`libs/contracts/schemas`). Nothing here uses the platform's own event models."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from functools import cache
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from jsonschema import Draft202012Validator

SCHEMAS = Path(__file__).resolve().parents[1] / "libs" / "contracts" / "schemas"


@cache
def published_schemas() -> dict[str, Draft202012Validator]:
    """Every published event schema by its CloudEvents type (the file name), checking formats too."""
    validators = {}
    for path in sorted(SCHEMAS.glob("*.json")):
        schema = json.loads(path.read_text())
        validators[path.stem] = Draft202012Validator(
            schema, format_checker=Draft202012Validator.FORMAT_CHECKER
        )
    return validators


async def read_from_start(
    bootstrap: str, topic: str, *, group_prefix: str, until: Any, timeout_s: float = 60
) -> list[ConsumerRecord[bytes, bytes]]:
    """Join a new consumer group, read `topic` from offset 0 until `until(records)` holds, then on to the end
    offsets seen at that moment; every record, in the order of each partition."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{group_prefix}integrator.{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    records: list[ConsumerRecord[bytes, bytes]] = []
    ends: dict[TopicPartition, int] | None = None
    deadline = time.monotonic() + timeout_s
    try:
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for batch in batches.values():
                records.extend(batch)
            if ends is None and until(records):
                ends = await consumer.end_offsets(list(consumer.assignment()))
            if ends is not None and all(await _reached(consumer, ends)):
                return records
            await asyncio.sleep(0)
        raise AssertionError(f"{topic} not read to its end in {timeout_s} s ({len(records)} records)")
    finally:
        await consumer.stop()


async def _reached(consumer: AIOKafkaConsumer, ends: dict[TopicPartition, int]) -> list[bool]:
    return [await consumer.position(partition) >= end for partition, end in ends.items()]
