"""Kafka clients configured the one way every service uses them."""

from __future__ import annotations

import contextlib
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError


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


async def ensure_topics(
    bootstrap_servers: str, topics: Iterable[str], *, partitions: int, security: KafkaSecurity = PLAINTEXT
) -> None:
    """Create the topics that do not exist yet (local and test stacks; production topics are provisioned)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, client_id="dife-topic-setup", **security.client_options()
    )
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = sorted(set(topics) - existing)
        if not missing:
            return
        # Another service starting at the same time may create them first.
        with contextlib.suppress(TopicAlreadyExistsError):
            await admin.create_topics(
                [NewTopic(name, num_partitions=partitions, replication_factor=1) for name in missing]
            )
    finally:
        await admin.close()


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
