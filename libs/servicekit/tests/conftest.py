from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from dife_contracts import topics
from dife_contracts.events import HoldPlaced
from servicekit.db import make_engine, make_sessionmaker
from servicekit.kafka import RelayProducer, delete_topics, ensure_topics, make_producer, make_relay_producer
from servicekit.testing import Infra, migrate, own_topics
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

SAMPLE_ALEMBIC_INI = Path(__file__).parent / "sample_service" / "alembic.ini"


@pytest.fixture
async def sample_db(fresh_database_url: str) -> str:
    await migrate(SAMPLE_ALEMBIC_INI, fresh_database_url)
    return fresh_database_url


@pytest.fixture
async def engine(sample_db: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(sample_db, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
def sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine, ce_source="/dife/servicekit-tests")


@pytest.fixture
async def unique_prefix(infra: Infra, topic_prefix: str) -> AsyncIterator[str]:
    """A prefix of its own per test, so each test reads only the events it wrote."""
    async with own_topics(infra, topic_prefix) as prefix:
        yield prefix


@pytest.fixture
async def producer(infra: Infra) -> AsyncIterator[AIOKafkaProducer]:
    producer = make_producer(infra.kafka_bootstrap, client_id="servicekit-tests")
    await producer.start()
    yield producer
    await producer.stop()


@pytest.fixture
async def relay_producer(infra: Infra) -> AsyncIterator[RelayProducer]:
    """The relay's own (librdkafka) producer, as `create_service_app` builds it."""
    producer = make_relay_producer(infra.kafka_bootstrap, client_id="servicekit-tests-relay")
    yield producer
    await producer.stop()


@pytest.fixture
async def ledger_topic(infra: Infra, unique_prefix: str) -> str:
    """The test's own physical ledger topic (3 partitions) and its dead-letter topic, created up front."""
    topic = unique_prefix + topics.LEDGER
    await ensure_topics(infra.kafka_bootstrap, [topic, topics.dead_letter(topic)], partitions=3)
    return topic


def hold_placed(elu_id: uuid.UUID | None = None, amount_cents: int = 10_000) -> HoldPlaced:
    """A real contract event to carry through the outbox and the consumer."""
    return HoldPlaced(
        elu_id=elu_id or uuid.uuid4(),
        hold_id=uuid.uuid4(),
        dossier_id=uuid.uuid4(),
        amount_cents=amount_cents,
        available_after_cents=0,
    )


@pytest.fixture
def new_hold_placed() -> Callable[..., HoldPlaced]:
    return hold_placed


SMALL_RECORDS_BYTES = 2000


@pytest.fixture
async def topic_refusing_large_records(infra: Infra) -> AsyncIterator[Callable[[str], Awaitable[str]]]:
    """Creates one-partition topics whose broker refuses records over `SMALL_RECORDS_BYTES` (a refusal by
    Kafka itself, for the relay's failure paths); deleted after the test."""
    created: list[str] = []

    async def create(name: str) -> str:
        admin = AIOKafkaAdminClient(bootstrap_servers=infra.kafka_bootstrap)
        await admin.start()
        try:
            limit = {"max.message.bytes": str(SMALL_RECORDS_BYTES)}
            await admin.create_topics(
                [NewTopic(name, num_partitions=1, replication_factor=1, topic_configs=limit)]
            )
        finally:
            await admin.close()
        created.append(name)
        return name

    yield create
    for name in created:
        await delete_topics(infra.kafka_bootstrap, name)
