"""Dead letters: list what a consumer parked on `<topic>.dlt`, and replay it to its source topic after a fix.

`servicekit.consumer` copies a poison record to `<topic>.dlt` with its value, key and CloudEvents headers,
plus `dlt_error`, `dlt_error_type`, `dlt_original_topic`, `dlt_original_partition`, `dlt_original_offset` and
`dlt_consumer_group`. A replay republishes the value, key and original headers (the `dlt_*` ones removed) to
`dlt_original_topic`, on its original partition so the order per key holds. Replaying is safe: consumers
are idempotent (their inbox), so a group that had already applied the event ignores it, and the one that
dead-lettered it applies it now, or dead-letters it again with the new reason.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

import typer

from dife_cli.common import cli_of, operator_errors
from dife_cli.errors import CliError

DLT_HEADER_PREFIX = "dlt_"
DEAD_LETTER_SUFFIX = ".dlt"  # dife_contracts.topics.DEAD_LETTER_SUFFIX
READ_TIMEOUT_S = 30.0

dlt_app = typer.Typer(no_args_is_help=True, help="Dead-lettered events: list and replay.")


@dataclass(frozen=True)
class DeadLetter:
    """One record of a dead-letter topic."""

    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: tuple[tuple[str, bytes], ...]

    def header(self, name: str) -> str | None:
        for key, raw in reversed(self.headers):
            if key == name:
                return raw.decode("utf-8", errors="replace") if raw is not None else None
        return None

    @property
    def event_id(self) -> str | None:
        return self.header("ce_id")

    @property
    def ident(self) -> str:
        """The CloudEvents id, or `@partition:offset` in the dead-letter topic for a record without one."""
        return self.event_id or f"@{self.partition}:{self.offset}"

    @property
    def first_seen(self) -> datetime:
        return datetime.fromtimestamp(self.timestamp_ms / 1000, tz=UTC)

    @property
    def original_topic(self) -> str | None:
        return self.header("dlt_original_topic")

    @property
    def original_partition(self) -> int | None:
        text = self.header("dlt_original_partition")
        return int(text) if text and text.isdigit() else None

    def summary(self) -> dict[str, object]:
        """What `dife dlt list --json` prints: the event, where it came from, why it was parked."""
        return {
            "id": self.ident,
            "type": self.header("ce_type"),
            "key": self.key.decode("utf-8", errors="replace") if self.key is not None else None,
            "error_type": self.header("dlt_error_type"),
            "error": self.header("dlt_error"),
            "original_topic": self.original_topic,
            "original_partition": self.original_partition,
            "original_offset": self.header("dlt_original_offset"),
            "consumer_group": self.header("dlt_consumer_group"),
            "first_seen": self.first_seen.isoformat(),
            "dlt_partition": self.partition,
            "dlt_offset": self.offset,
        }

    def replay_headers(self) -> list[tuple[str, bytes]]:
        """The record's own headers (CloudEvents, traceparent), without what the dead-lettering added."""
        return [(name, raw) for name, raw in self.headers if not name.startswith(DLT_HEADER_PREFIX)]


def dead_letter_topic(topic: str, prefix: str) -> str:
    """`ledger`, `dife.ledger.events` or `dife.ledger.events.dlt` (with or without the prefix) → physical."""
    name = topic.removesuffix(DEAD_LETTER_SUFFIX)
    if "." not in name:
        name = f"dife.{name}.events"
    if prefix and not name.startswith(prefix):
        name = prefix + name
    return name + DEAD_LETTER_SUFFIX


async def read_dead_letters(
    bootstrap: str, topic: str, *, timeout_s: float = READ_TIMEOUT_S
) -> list[DeadLetter]:
    """Every record of `topic` from the beginning to the end it had when asked, oldest first."""
    from aiokafka import AIOKafkaConsumer, TopicPartition

    numbers = await _partitions_of(bootstrap, topic)
    if not numbers:
        return []
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False)
    await _start(consumer, bootstrap)
    try:
        partitions = [TopicPartition(topic, number) for number in numbers]
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        pending = {tp for tp in partitions if await consumer.position(tp) < ends[tp]}
        letters: list[DeadLetter] = []
        deadline = time.monotonic() + timeout_s
        while pending:
            if time.monotonic() > deadline:
                raise CliError(f"reading {topic} took more than {timeout_s:.0f} s (Kafka at {bootstrap})")
            batches = await consumer.getmany(*pending, timeout_ms=1000)
            for tp, records in batches.items():
                letters += [
                    DeadLetter(
                        partition=r.partition,
                        offset=r.offset,
                        timestamp_ms=r.timestamp,
                        key=r.key,
                        value=r.value,
                        headers=tuple((name, raw) for name, raw in r.headers),
                    )
                    for r in records
                    if r.offset < ends[tp]
                ]
            pending = {tp for tp in pending if await consumer.position(tp) < ends[tp]}
        return sorted(letters, key=lambda letter: (letter.timestamp_ms, letter.partition, letter.offset))
    finally:
        await consumer.stop()


async def _partitions_of(bootstrap: str, topic: str) -> list[int]:
    """The topic's partition numbers, or none when it does not exist (never created by asking)."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await _start(admin, bootstrap)
    try:
        if topic not in await admin.list_topics():
            return []
        (description,) = await admin.describe_topics([topic])
        return sorted(partition["partition"] for partition in description["partitions"])
    finally:
        await admin.close()


async def republish(bootstrap: str, letters: Sequence[DeadLetter]) -> list[tuple[DeadLetter, str, int, int]]:
    """Send each letter back to its original topic; returns (letter, topic, partition, offset) per send."""
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", enable_idempotence=True)
    await _start(producer, bootstrap)
    sent: list[tuple[DeadLetter, str, int, int]] = []
    try:
        for letter in letters:
            topic = letter.original_topic
            if not topic:
                raise CliError(f"dead letter {letter.ident} has no dlt_original_topic header: not replayable")
            metadata = await producer.send_and_wait(
                topic,
                value=letter.value,
                key=letter.key,
                headers=letter.replay_headers(),
                partition=letter.original_partition,
            )
            sent.append((letter, topic, metadata.partition, metadata.offset))
    finally:
        await producer.stop()
    return sent


async def _start(client: object, bootstrap: str) -> None:
    from aiokafka.errors import KafkaError

    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)  # its errors become one CliError sentence
    try:
        await client.start()  # type: ignore[attr-defined]
    except KafkaError as error:
        await (client.close() if hasattr(client, "close") else client.stop())  # type: ignore[attr-defined]
        raise CliError(
            f"cannot reach Kafka at {bootstrap} ({type(error).__name__}); "
            "set --kafka or DIFE_CLI_KAFKA_BOOTSTRAP_SERVERS"
        ) from None


def latest_per_event(letters: Sequence[DeadLetter]) -> list[DeadLetter]:
    """One letter per event (its last dead-lettering), in the order they were first parked."""
    latest: dict[str, DeadLetter] = {}
    for letter in letters:
        latest[letter.ident] = letter
    return sorted(latest.values(), key=lambda letter: (letter.timestamp_ms, letter.partition, letter.offset))


def _key(letter: DeadLetter) -> str:
    return letter.key.decode("utf-8", errors="replace") if letter.key is not None else "—"


def _source(letter: DeadLetter) -> str:
    return (
        f"{letter.original_topic or '?'}[{letter.header('dlt_original_partition') or '?'}]"
        f"@{letter.header('dlt_original_offset') or '?'}"
    )


@dlt_app.command("list")
@operator_errors
def dlt_list(
    ctx: typer.Context,
    topic: Annotated[str, typer.Option(help="the source topic: ledger, dife.ledger.events, or its .dlt")],
    full: Annotated[bool, typer.Option(help="show whole error messages")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="one JSON object a line, for scripts")] = False,
) -> None:
    """Each dead-lettered record: event id and type, key, error headers, when it was first parked."""
    from rich.table import Table

    from dife_cli.render import out

    settings = cli_of(ctx).settings
    physical = dead_letter_topic(topic, settings.topic_prefix)
    letters = asyncio.run(read_dead_letters(settings.kafka_bootstrap_servers, physical))
    if as_json:
        for letter in letters:
            sys.stdout.write(json.dumps(letter.summary(), ensure_ascii=False) + "\n")
        return
    if not letters:
        out.print(f"no dead letters on {physical}")
        return
    table = Table(title=f"{physical} ({len(letters)})", title_justify="left")
    for column in ("id", "type", "key", "error type", "error", "from", "group", "first seen"):
        whole = column in ("id", "type", "error type", "first seen")  # never cut what one copies
        table.add_column(column, overflow="fold", no_wrap=whole)
    for letter in letters:
        error = letter.header("dlt_error") or ""
        table.add_row(
            letter.ident,
            letter.header("ce_type") or "—",
            _key(letter),
            letter.header("dlt_error_type") or "—",
            error if full or len(error) <= 120 else error[:117] + "…",
            _source(letter),
            letter.header("dlt_consumer_group") or "—",
            letter.first_seen.isoformat(timespec="seconds"),
        )
    out.print(table)


@dlt_app.command("replay")
@operator_errors
def dlt_replay(
    ctx: typer.Context,
    topic: Annotated[str, typer.Option(help="the source topic: ledger, dife.ledger.events, or its .dlt")],
    id_: Annotated[
        list[str] | None,
        typer.Option("--id", help="CloudEvents id (or @partition:offset) to replay; repeatable; default all"),
    ] = None,
) -> None:
    """Republish dead-lettered events to their source topic, after the fix (consumers are idempotent)."""
    from dife_cli.render import out

    settings = cli_of(ctx).settings
    physical = dead_letter_topic(topic, settings.topic_prefix)
    letters = latest_per_event(asyncio.run(read_dead_letters(settings.kafka_bootstrap_servers, physical)))
    if id_:
        found = {letter.ident: letter for letter in letters}
        missing = [wanted for wanted in id_ if wanted not in found]
        if missing:
            raise CliError(f"no dead letter {', '.join(missing)} on {physical}")
        letters = [found[wanted] for wanted in dict.fromkeys(id_)]
    if not letters:
        out.print(f"no dead letters on {physical}; nothing to replay")
        return
    sent = asyncio.run(republish(settings.kafka_bootstrap_servers, letters))
    for letter, target, partition, offset in sent:
        kind = letter.header("ce_type") or "no type"
        out.print(f"replayed {letter.ident} ({kind}) to {target}[{partition}]@{offset}")
    out.print(f"[green]{len(sent)} event(s) replayed[/green]")
