"""Kafka clients configured the one way every service uses them."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import confluent_kafka
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import RequestTimedOutError, TopicAlreadyExistsError, for_code


@dataclass(frozen=True)
class KafkaSecurity:
    """How a service logs in to Kafka: PLAINTEXT locally; SASL (SCRAM) over TLS in production, where each
    service's Kafka user may write only its own topic (deploy/k8s/base/kafka/users.yaml)."""

    protocol: str = "PLAINTEXT"
    sasl_mechanism: str | None = None
    username: str | None = None
    password: str | None = None
    ca_file: str | None = None

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for every aiokafka client (producer, consumer, admin)."""
        options: dict[str, Any] = {"security_protocol": self.protocol}
        if self.protocol in ("SSL", "SASL_SSL"):
            options["ssl_context"] = ssl.create_default_context(cafile=self.ca_file)
        if self.protocol.startswith("SASL"):
            options.update(
                sasl_mechanism=self.sasl_mechanism or "SCRAM-SHA-512",
                sasl_plain_username=self.username,
                sasl_plain_password=self.password,
            )
        return options

    def librdkafka_options(self) -> dict[str, Any]:
        """The same login in librdkafka's terms (the relay's producer, `RelayProducer`)."""
        options: dict[str, Any] = {"security.protocol": self.protocol.lower()}
        if self.protocol in ("SSL", "SASL_SSL"):
            options["ssl.ca.location"] = self.ca_file or "probe"  # "probe": the system's CAs, as aiokafka
        if self.protocol.startswith("SASL"):
            options.update(
                {
                    "sasl.mechanism": self.sasl_mechanism or "SCRAM-SHA-512",
                    "sasl.username": self.username,
                    "sasl.password": self.password,
                }
            )
        return options


PLAINTEXT = KafkaSecurity()


def make_producer(
    bootstrap_servers: str, *, client_id: str, security: KafkaSecurity = PLAINTEXT
) -> AIOKafkaProducer:
    """Idempotent producer with acks=all: no duplicate from producer retries, per-partition order kept."""
    return AIOKafkaProducer(
        bootstrap_servers=bootstrap_servers,
        client_id=client_id,
        **security.client_options(),
        enable_idempotence=True,
        acks="all",
        linger_ms=2,
        max_batch_size=256 * 1024,
        compression_type=None,
    )


class DeliveryFailed(Exception):
    """Kafka did not acknowledge every record of a relay batch: the rows stay in the outbox, sent again."""


class RelayProducer:
    """The outbox relay's producer: librdkafka (confluent-kafka), idempotent with acks=all.

    Chosen over aiokafka for the relay because it batches, partitions (murmur2, Kafka's default for keyed
    records) and acknowledges in C: the relay drained about twice as fast (bench/relay_producers.py). The
    consumers and dead letters stay on aiokafka. Idempotence keeps each partition in the order records were
    handed over, through retries, so the relay's id order per key holds on Kafka.
    """

    def __init__(self, config: Mapping[str, Any], *, flush_timeout_s: float = 60.0) -> None:
        # Delivery reports for failed records only: a Python call per acknowledged record cost the relay
        # about a tenth of its CPU. flush() returning 0 means every record was acknowledged or reported here.
        self._failures: list[Any] = []
        self._producer = confluent_kafka.Producer(
            {**config, "delivery.report.only.error": True, "on_delivery": self._on_failure}
        )
        self._flush_timeout_s = flush_timeout_s

    def _on_failure(self, error: Any, _: Any) -> None:
        self._failures.append(error)

    async def send_all(self, records: Iterable[tuple[str, bytes, bytes, list[tuple[str, bytes]]]]) -> None:
        """Hand over (topic, key, value, headers) records in order; return once Kafka acknowledged them all,
        else raise `DeliveryFailed` (some may be on Kafka: the relay sends them again, at-least-once)."""
        self._failures.clear()
        produce = self._producer.produce
        for topic, key, value, headers in records:
            while True:
                try:
                    produce(topic, value, key, headers=cast(Any, headers))
                    break
                except BufferError:  # librdkafka's queue is full: let it send, then hand over the rest
                    await asyncio.to_thread(self._producer.poll, 0.05)
        # flush() blocks until every record is acknowledged (or failed): in a thread, off the event loop.
        waiting = await asyncio.to_thread(self._producer.flush, self._flush_timeout_s)
        if waiting:
            self._producer.purge(in_queue=True, in_flight=False, blocking=False)
            raise DeliveryFailed(f"{waiting} records not acknowledged within {self._flush_timeout_s} s")
        if self._failures:
            first = self._failures[0]
            raise DeliveryFailed(f"{len(self._failures)} records refused by Kafka, the first: {first}")

    async def stop(self, timeout_s: float = 5.0) -> None:
        """Wait (briefly) for what is in flight; the relay re-sends whatever was not acknowledged."""
        await asyncio.to_thread(self._producer.flush, timeout_s)


def make_relay_producer(
    bootstrap_servers: str, *, client_id: str, security: KafkaSecurity = PLAINTEXT
) -> RelayProducer:
    """The relay's librdkafka producer, with the same login as the service's other Kafka clients."""
    return RelayProducer(
        {
            "bootstrap.servers": bootstrap_servers,
            "client.id": client_id,
            **security.librdkafka_options(),
            "enable.idempotence": True,
            "acks": "all",
            "linger.ms": 2,
            "batch.size": 1_000_000,
            "compression.type": "none",
            "partitioner": "murmur2_random",  # murmur2 for keyed records: the Java client's default
            "delivery.timeout.ms": 30_000,
        }
    )


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[str], *, partitions: int, security: KafkaSecurity = PLAINTEXT
) -> None:
    """Create the topics that do not exist yet (local and test stacks; production topics are provisioned)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="dife-topic-setup", **security.client_options()
    )
    wanted = set(topics)
    await admin.start()
    try:
        missing = sorted(wanted - set(await admin.list_topics()))
        if not missing:
            return
        # Another service starting at the same time may create them first.
        with contextlib.suppress(TopicAlreadyExistsError):
            response = await admin.create_topics(
                [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in missing]
            )
            _raise_refused(response.topic_errors)
        await _until_listed(admin, wanted)
    finally:
        await admin.close()


_CREATED_OR_UNDER_WAY = {0, TopicAlreadyExistsError.errno, RequestTimedOutError.errno}
"""Per-topic answers to a creation that end in the topic existing (a timed-out one is still applied)."""


def _raise_refused(topic_errors: Iterable[tuple[Any, ...]]) -> None:
    """The broker answers a refused creation per topic, without failing the request: say which and why
    at once, rather than waiting for topics that will never be listed."""
    refused = {
        name: for_code(code).__name__ for name, code, *_ in topic_errors if code not in _CREATED_OR_UNDER_WAY
    }
    if refused:
        raise ValueError(f"the broker refused to create topics: {refused}")


async def _until_listed(admin: AIOKafkaAdminClient, wanted: set[str], timeout_s: float = 30.0) -> None:
    """The controller answers a creation before the broker's metadata shows it (KRaft propagates it
    asynchronously, seconds under load): wait until it does, so whoever asked can use the topics at once."""
    deadline = asyncio.get_running_loop().time() + timeout_s
    while not_listed := wanted - set(await admin.list_topics()):
        if asyncio.get_running_loop().time() > deadline:
            raise TimeoutError(f"topics created but still not in the broker's metadata: {sorted(not_listed)}")
        await asyncio.sleep(0.1)


async def delete_topics(bootstrap_servers: str, prefix: str) -> int:
    """Delete every topic whose name starts with ``prefix`` (test runs clean up after themselves)."""
    if not prefix:
        raise ValueError("refusing to delete every topic: give a prefix")
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="dife-topic-cleanup")
    await admin.start()
    try:
        doomed = [name for name in await admin.list_topics() if name.startswith(prefix)]
        if doomed:
            await admin.delete_topics(doomed)
        return len(doomed)
    finally:
        await admin.close()
