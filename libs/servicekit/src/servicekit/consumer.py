"""The idempotent consumer: each event's inbox row and effects in one DB transaction, offsets committed after.

For each record, in partition order: the envelope is parsed; an event type the service does not handle is
passed over; otherwise a transaction inserts ``(consumer group, event id)`` into the inbox (a redelivery
finds it and is a no-op), runs the handler (which may write outgoing events to the outbox) and commits.
Only then is the offset committed. Transient failures (database or broker unreachable, serialization
conflicts) retry with capped backoff, without end: the partition waits. Other failures retry
``max_attempts`` times, then the record goes to ``<topic>.dlt`` with the error in its headers and the
partition goes on. Guarantees and their tests: ``OUTBOX.md``.

Consecutive handleable events of one fetch share a transaction (at most ``events_per_transaction``): one
inbox statement, one commit. All of them take effect, or none: if any handler or the commit fails, the
transaction is rolled back and its events are applied again one per transaction, where retries and
dead-lettering work per event as above.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import asyncpg
import structlog
from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRebalanceListener,
    ConsumerRecord,
    TopicPartition,
)
from aiokafka.errors import CommitFailedError, KafkaError
from dife_contracts import Envelope, Event, InvalidEnvelope, UnknownEventType, topics
from dife_contracts.registry import EVENT_TYPES
from pydantic import ValidationError
from sqlalchemy import bindparam
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from servicekit import metrics
from servicekit.errors import is_dependency_outage
from servicekit.kafka import PLAINTEXT, KafkaSecurity
from servicekit.rules import RuleError
from servicekit.tables import inbox
from servicekit.tracing import current_traceparent

log = structlog.get_logger(__name__)

E = TypeVar("E", bound=Event)

FETCH_MAX_WAIT_MS = 500
"""How long the broker holds a fetch that finds nothing new. A long poll adds no latency: aiokafka sends a
fetch to a broker only once every record it buffered from that broker is consumed, so each fetch names every
assigned partition, and the broker answers it as soon as any of them has a record. A short wait only
made an idle consumer send (and the broker answer) a fetch of every partition 50 times a second."""


_FIRST_DELIVERY = (
    pg_insert(inbox)
    .values(
        consumer_group=bindparam("consumer_group"),
        event_id=bindparam("event_id"),
        ce_type=bindparam("ce_type"),
    )
    .on_conflict_do_nothing()
    .returning(inbox.c.event_id)
)
"""The inbox row of one event, or nothing if it was applied before. Built once: building it per event was
a third of the statement's CPU. It stays a SQLAlchemy statement, as the transaction's first: SQLAlchemy begins
the transaction on the driver with it."""


@dataclass(frozen=True)
class EventMeta:
    """Where an event came from, for handlers that need more than the payload."""

    envelope: Envelope
    topic: str
    partition: int
    offset: int

    @property
    def event_id(self) -> uuid.UUID:
        return uuid.UUID(self.envelope.id)


Handler = Callable[[AsyncSession, Any, EventMeta], Awaitable[None]]
BatchHandler = Callable[[AsyncSession, Sequence[tuple[Any, EventMeta]]], Awaitable[None]]


class PermanentEventError(Exception):
    """The event can never be handled (it contradicts this service's state): dead-letter it at once.

    A use case raises `servicekit.rules` errors, never this: a broken rule is dead-lettered the same way.
    """


class UntrustedEvent(PermanentEventError):
    """An event type arrived on a topic, or with a `ce_source`, that does not own it (R-… spoofing)."""


class TransientEventError(Exception):
    """The event cannot be handled yet (a dependency is down): retry without dead-lettering."""


@dataclass(eq=False)
class _Ready:
    """A fetched record ready for its handler: decoded, trusted and parsed."""

    record: ConsumerRecord[bytes, bytes]
    envelope: Envelope
    event: Event
    handler: Handler
    outcome: str = "pending"

    @property
    def event_id(self) -> uuid.UUID:
        return uuid.UUID(self.envelope.id)

    @property
    def meta(self) -> EventMeta:
        record = self.record
        return EventMeta(
            envelope=self.envelope, topic=record.topic, partition=record.partition, offset=record.offset
        )


class EventHandlers:
    """Registry of handlers by event model: ``@handlers.on(HoldPlaced) async def _(session, event, meta)``."""

    def __init__(self) -> None:
        self._by_type: dict[str, Handler] = {}
        self._batch_by_type: dict[str, BatchHandler] = {}

    def on(self, *models: type[E]) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            for model in models:
                if model.ce_type in self._by_type:
                    raise ValueError(f"a handler for {model.ce_type} is already registered")
                self._by_type[model.ce_type] = handler
            return handler

        return register

    def on_batch(self, *models: type[E]) -> Callable[[BatchHandler], BatchHandler]:
        """A handler of consecutive events of these types: ``async def _(session, [(event, meta), …])``,
        called once for a run that shares a transaction (one event when events are applied one by one).
        What it enqueues carries no parent trace: the run's events have one each."""

        def register(handler: BatchHandler) -> BatchHandler:
            async def one(session: AsyncSession, event: Any, meta: EventMeta) -> None:
                await handler(session, [(event, meta)])

            self.on(*models)(one)
            for model in models:
                self._batch_by_type[model.ce_type] = handler
            return handler

        return register

    def handler_for(self, ce_type: str) -> Handler | None:
        return self._by_type.get(ce_type)

    def batch_handler_for(self, ce_type: str) -> BatchHandler | None:
        return self._batch_by_type.get(ce_type)

    @property
    def event_types(self) -> frozenset[str]:
        return frozenset(self._by_type)


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer group of a service: the logical topics it reads and its handlers."""

    name: str
    topics: Sequence[str]
    handlers: EventHandlers


_SKIP: Any = object()  # `_ready`'s answer for a record no handler of this consumer wants
_APPLIED: Any = object()  # `_apply_together`'s answer when the whole run took effect


_TRANSIENT_SQLSTATES = frozenset({"40001", "40P01", "55P03", "53300", "57P01", "57P02", "57P03"})
"""serialization_failure, deadlock_detected, lock_not_available, too_many_connections, admin shutdown…"""


def is_transient(error: BaseException) -> bool:
    """Whether the event may succeed if tried again later (retried without end) rather than being wrong."""
    if isinstance(error, TransientEventError | ConnectionError | TimeoutError | KafkaError):
        return True
    if is_dependency_outage(error):
        return True
    if isinstance(error, asyncpg.PostgresError):  # a statement sent on the driver (`transaction_driver`)
        return error.sqlstate in _TRANSIENT_SQLSTATES
    if isinstance(error, sa_exc.DBAPIError):
        if error.connection_invalidated or isinstance(error, sa_exc.OperationalError | sa_exc.InterfaceError):
            return True
        sqlstate = getattr(error.orig, "sqlstate", None) or getattr(
            getattr(error.orig, "__cause__", None), "sqlstate", None
        )
        return sqlstate in _TRANSIENT_SQLSTATES
    return False


class _CommitOnRevoke(ConsumerRebalanceListener):
    def __init__(self, runner: EventConsumer) -> None:
        self._runner = runner

    async def on_partitions_revoked(self, revoked: Iterable[TopicPartition]) -> None:
        await self._runner.commit_processed()

    async def on_partitions_assigned(self, assigned: Iterable[TopicPartition]) -> None:
        self._runner.assigned = set(assigned)


class EventConsumer:
    """Runs one `ConsumerSpec` until cancelled."""

    def __init__(
        self,
        spec: ConsumerSpec,
        *,
        bootstrap_servers: str,
        group_id: str,
        physical_topics: Sequence[str],
        sessionmaker: async_sessionmaker[AsyncSession],
        producer: AIOKafkaProducer,
        service_name: str,
        topic_prefix: str = "",
        security: KafkaSecurity = PLAINTEXT,
        group_instance_id: str | None = None,
        max_attempts: int = 3,
        backoff_s: float = 0.2,
        max_backoff_s: float = 10.0,
        events_per_transaction: int = 100,
    ) -> None:
        self.spec = spec
        self.group_id = group_id
        self._bootstrap = bootstrap_servers
        self._topics = list(physical_topics)
        self._sessionmaker = sessionmaker
        self._producer = producer
        self._service = service_name
        self._topic_prefix = topic_prefix
        self._security = security
        self._instance_id = group_instance_id
        self._max_attempts = max_attempts
        self._backoff_s = backoff_s
        self._max_backoff_s = max_backoff_s
        self._events_per_transaction = events_per_transaction
        self._consumer: AIOKafkaConsumer | None = None
        self._processed: dict[TopicPartition, int] = {}
        self.assigned: set[TopicPartition] = set()
        self.handled_total = 0
        self.dead_lettered_total = 0

    def _make_consumer(self) -> AIOKafkaConsumer:
        return AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            **self._security.client_options(),
            group_id=self.group_id,
            group_instance_id=self._instance_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            isolation_level="read_committed",
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            max_poll_records=500,
            session_timeout_ms=30_000 if self._instance_id else 10_000,
            heartbeat_interval_ms=3_000,
        )

    async def run(self) -> None:
        consumer = self._consumer = self._make_consumer()
        consumer.subscribe(self._topics, listener=_CommitOnRevoke(self))
        try:
            await consumer.start()  # inside the try: a cancellation while starting still closes it
            while True:
                batches = await consumer.getmany(timeout_ms=500)
                for tp, records in batches.items():
                    await self._process_fetched(records)
                    self._processed[tp] = records[-1].offset + 1
                    self._observe_lag(consumer, tp)
                await self.commit_processed()
        finally:
            await self._stop(consumer)

    async def _stop(self, consumer: AIOKafkaConsumer) -> None:
        try:
            await asyncio.shield(self.commit_processed())
        finally:
            await consumer.stop()

    async def commit_processed(self) -> None:
        """Commit the offsets of records whose effects are durable (called after each batch and on revoke)."""
        if not self._processed or self._consumer is None:
            return
        offsets, self._processed = self._processed, {}
        try:
            await self._consumer.commit(offsets)
        except CommitFailedError as error:
            # The partitions moved to another member: it re-reads from the last commit; the inbox makes the
            # replays no-ops.
            log.warning("offset commit refused after a rebalance", error=str(error))

    def _observe_lag(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> None:
        highwater = consumer.highwater(tp)
        if highwater is not None and tp in self._processed:
            metrics.CONSUMER_LAG.labels(self._service, tp.topic, str(tp.partition)).set(
                highwater - self._processed[tp]
            )

    async def _process_fetched(self, records: Sequence[ConsumerRecord[bytes, bytes]]) -> None:
        """One partition's fetched records, in order: runs of handleable events share a transaction; any
        other record (undecodable, untrusted, invalid payload) is dealt with alone, between the runs."""
        run: list[_Ready] = []
        for record in records:
            ready = self._ready(record)
            if ready is None:
                await self._apply_run(run)
                run = []
                await self._process(record)
                continue
            if ready is not _SKIP:
                run.append(ready)
            if len(run) >= self._events_per_transaction:
                await self._apply_run(run)
                run = []
        await self._apply_run(run)

    def _ready(self, record: ConsumerRecord[bytes, bytes]) -> _Ready | None:
        """The record parsed and trusted, `_SKIP` when no handler wants it, or None: it needs `_process`."""
        try:
            envelope = Envelope.from_kafka(record.key, record.value, record.headers)
        except InvalidEnvelope:
            return None
        handler = self.spec.handlers.handler_for(envelope.type)
        if handler is None:
            return _SKIP
        if self._distrust(record.topic, envelope) is not None:
            return None
        try:
            event = envelope.parse()
        except (ValidationError, UnknownEventType):
            return None
        return _Ready(record, envelope, event, handler)

    async def _apply_run(self, run: Sequence[_Ready]) -> None:
        if len(run) == 1:
            await self._process(run[0].record)
        elif run:
            failed = await self._apply_together(run)
            if failed is not _APPLIED:
                # All rolled back: once more, one transaction each. The event whose handler failed has
                # had one attempt already.
                for ready in run:
                    await self._process(ready.record, attempts_made=1 if ready is failed else 0)

    async def _apply_together(self, run: Sequence[_Ready]) -> _Ready | None:
        """Apply the run in one transaction. Returns `_APPLIED`, or the event whose handler failed (None
        when the failure is not one handler's: the inbox insert or the commit)."""
        running: _Ready | None = None
        try:
            async with self._sessionmaker.begin() as session:
                first_deliveries = set(
                    await session.scalars(
                        pg_insert(inbox)
                        .values(
                            [
                                {
                                    "consumer_group": self.group_id,
                                    "event_id": r.event_id,
                                    "ce_type": r.envelope.type,
                                }
                                for r in run
                            ]
                        )
                        .on_conflict_do_nothing()
                        .returning(inbox.c.event_id)
                    )
                )
                fresh: list[_Ready] = []
                for ready in run:
                    if ready.event_id in first_deliveries:
                        first_deliveries.discard(ready.event_id)  # the same event twice in one run: once
                        fresh.append(ready)
                    else:
                        ready.outcome = "duplicate"
                for group in self._groups(fresh):
                    running = group[0] if len(group) == 1 else None
                    await self._run_group(session, group)
                running = None
        except asyncio.CancelledError:
            raise
        except Exception as error:
            log.info("events of one transaction failed together; applying them one by one", error=repr(error))
            return running
        for ready in run:
            if ready.outcome == "handled":
                self.handled_total += 1
            metrics.EVENTS_CONSUMED.labels(
                self._service, ready.record.topic, ready.envelope.type, ready.outcome
            ).inc()
        return _APPLIED

    def _groups(self, fresh: Sequence[_Ready]) -> list[list[_Ready]]:
        """The run cut into what one handler call takes: consecutive events of one batch handler, or one."""
        groups: list[list[_Ready]] = []
        for ready in fresh:
            batch = self.spec.handlers.batch_handler_for(ready.envelope.type)
            previous = groups[-1][-1] if groups else None
            if (
                batch is not None
                and previous is not None
                and self.spec.handlers.batch_handler_for(previous.envelope.type) is batch
            ):
                groups[-1].append(ready)
            else:
                groups.append([ready])
        return groups

    async def _run_group(self, session: AsyncSession, group: Sequence[_Ready]) -> None:
        batch = self.spec.handlers.batch_handler_for(group[0].envelope.type)
        if batch is None or len(group) == 1:
            await self._run_handler(session, group[0])
        else:
            await batch(session, [(ready.event, ready.meta) for ready in group])
        for ready in group:
            ready.outcome = "handled"

    async def _run_handler(self, session: AsyncSession, ready: _Ready) -> None:
        structlog.contextvars.bind_contextvars(event_id=ready.envelope.id, event_type=ready.envelope.type)
        token = current_traceparent.set(ready.envelope.traceparent)
        try:
            await ready.handler(session, ready.event, ready.meta)
        finally:
            current_traceparent.reset(token)
            structlog.contextvars.unbind_contextvars("event_id", "event_type")

    async def _process(self, record: ConsumerRecord[bytes, bytes], *, attempts_made: int = 0) -> None:
        try:
            envelope = Envelope.from_kafka(record.key, record.value, record.headers)
        except InvalidEnvelope as error:
            await self._dead_letter(record, error)
            return
        handler = self.spec.handlers.handler_for(envelope.type)
        if handler is None:
            return  # another consumer's business, or a type this service does not need
        distrust = self._distrust(record.topic, envelope)
        if distrust is not None:
            await self._dead_letter(record, UntrustedEvent(distrust))
            return
        structlog.contextvars.bind_contextvars(event_id=envelope.id, event_type=envelope.type)
        token = current_traceparent.set(envelope.traceparent)
        try:
            await self._handle_with_retries(record, envelope, handler, attempts_made=attempts_made)
        finally:
            current_traceparent.reset(token)
            structlog.contextvars.unbind_contextvars("event_id", "event_type")

    def _distrust(self, physical_topic: str, envelope: Envelope) -> str | None:
        """Why an event must not be believed, or None: its type is owned by one topic and one source."""
        model = EVENT_TYPES.get(envelope.type)
        if model is None:
            return None  # parsing reports the unknown type
        owner_topic = self._topic_prefix + model.topic
        if physical_topic != owner_topic:
            return f"{envelope.type} is published only on {model.topic}, not on {physical_topic}"
        owner_source = topics.source_of(model.topic)
        if envelope.source != owner_source:
            return f"{envelope.type} comes only from {owner_source}, not from {envelope.source!r}"
        return None

    async def _handle_with_retries(
        self,
        record: ConsumerRecord[bytes, bytes],
        envelope: Envelope,
        handler: Handler,
        *,
        attempts_made: int = 0,
    ) -> None:
        attempt = attempts_made
        while True:
            attempt += 1
            try:
                event = envelope.parse()
                await self._apply(record, envelope, event, handler)
                return
            except (ValidationError, UnknownEventType, PermanentEventError, RuleError) as error:
                await self._dead_letter(record, error)
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                transient = is_transient(error)
                if not transient and attempt >= self._max_attempts:
                    log.error("event handling failed; dead-lettering", error=repr(error), attempts=attempt)
                    await self._dead_letter(record, error)
                    return
                delay = min(self._max_backoff_s, self._backoff_s * 2 ** (attempt - 1))
                log.warning(
                    "event handling failed; retrying", error=repr(error), attempt=attempt, delay_s=delay
                )
                metrics.EVENTS_CONSUMED.labels(self._service, record.topic, envelope.type, "retried").inc()
                await asyncio.sleep(delay)

    async def _apply(
        self, record: ConsumerRecord[bytes, bytes], envelope: Envelope, event: Event, handler: Handler
    ) -> None:
        meta = EventMeta(
            envelope=envelope, topic=record.topic, partition=record.partition, offset=record.offset
        )
        async with self._sessionmaker.begin() as session:
            first_delivery = await session.scalar(
                _FIRST_DELIVERY,
                {"consumer_group": self.group_id, "event_id": meta.event_id, "ce_type": envelope.type},
            )
            if first_delivery is None:
                metrics.EVENTS_CONSUMED.labels(self._service, record.topic, envelope.type, "duplicate").inc()
                return
            await handler(session, event, meta)
        self.handled_total += 1
        metrics.EVENTS_CONSUMED.labels(self._service, record.topic, envelope.type, "handled").inc()

    async def _dead_letter(self, record: ConsumerRecord[bytes, bytes], error: BaseException) -> None:
        """Park the record on ``<topic>.dlt`` with the reason; acknowledged before its offset is committed."""
        headers = [
            *list(record.headers or ()),
            ("dlt_error", str(error)[:4000].encode()),
            ("dlt_error_type", type(error).__qualname__.encode()),
            ("dlt_original_topic", record.topic.encode()),
            ("dlt_original_partition", str(record.partition).encode()),
            ("dlt_original_offset", str(record.offset).encode()),
            ("dlt_consumer_group", self.group_id.encode()),
        ]
        await self._producer.send_and_wait(
            f"{record.topic}.dlt", value=record.value, key=record.key, headers=headers
        )
        self.dead_lettered_total += 1
        metrics.DEAD_LETTERS.labels(self._service, record.topic).inc()
        log.error("event dead-lettered", topic=record.topic, offset=record.offset, error=str(error)[:500])
