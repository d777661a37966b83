"""pytest fixtures on the real Kafka and PostgreSQL (enabled for the whole repo from the root pyproject)."""

from __future__ import annotations

import functools
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from servicekit import devtokens
from servicekit.kafka import delete_topics
from servicekit.testing import create_database, drop_databases
from servicekit.testing.infra import Infra, resolve_infra

TEST_ISSUER = "dife-test"
TEST_AUDIENCE = "dife"


@pytest.fixture(scope="session")
def infra(request: pytest.FixtureRequest) -> Infra:
    return resolve_infra(request)


@pytest.fixture(scope="session")
async def topic_prefix(infra: Infra) -> AsyncIterator[str]:
    """A prefix of the run's own; its topics are deleted at the end, so a shared broker does not fill up."""
    prefix = f"test.{uuid.uuid4().hex[:10]}."
    yield prefix
    await delete_topics(infra.kafka_bootstrap, prefix)


DatabaseFactory = Callable[[], Awaitable[str]]


@pytest.fixture(scope="session")
async def database_factory(infra: Infra) -> AsyncIterator[DatabaseFactory]:
    """Creates empty databases on demand; drops them all when the session ends."""
    created: list[str] = []

    async def create() -> str:
        name = f"test_{uuid.uuid4().hex[:16]}"
        created.append(name)
        return await create_database(infra.pg_admin_url, name)

    yield create
    await drop_databases(infra.pg_admin_url, created)


@pytest.fixture
async def fresh_database_url(database_factory: DatabaseFactory) -> str:
    return await database_factory()


class JwtKeys:
    def __init__(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.private_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
        self.public_pem = devtokens.public_pem_of(self.private_pem)


@pytest.fixture(scope="session")
def jwt_keys() -> JwtKeys:
    return JwtKeys()


@pytest.fixture(scope="session")
def mint_token(jwt_keys: JwtKeys) -> Callable[..., str]:
    """``mint_token(sub="…", roles=["agent"], siret="…")`` → a bearer token the test apps accept."""
    return functools.partial(
        devtokens.mint_token, jwt_keys.private_pem, issuer=TEST_ISSUER, audience=TEST_AUDIENCE
    )


@pytest.fixture(scope="session")
def kit_overrides(infra: Infra, topic_prefix: str, jwt_keys: JwtKeys) -> Callable[[str], dict[str, Any]]:
    """``Settings(**kit_overrides(database_url), own_field=…)``: a service's settings on the test stack."""

    def overrides(database_url: str) -> dict[str, Any]:
        return {
            "environment": "test",
            "database_url": database_url,
            "kafka_bootstrap_servers": infra.kafka_bootstrap,
            "topic_prefix": topic_prefix,
            "topic_partitions": 1,
            "jwt_public_key_pem": jwt_keys.public_pem,
            "jwt_jwks_url": None,
            "jwt_issuer": TEST_ISSUER,
            "jwt_audience": TEST_AUDIENCE,
            "relay_poll_interval_s": 0.2,
            "consumer_backoff_s": 0.05,
        }

    return overrides


@pytest.fixture
def bearer(mint_token: Callable[..., str]) -> Callable[..., dict[str, str]]:
    """``headers=bearer("agent", sub=…)``: an Authorization header for one role."""

    def headers(*roles: str, sub: str | None = None, **claims: Any) -> dict[str, str]:
        token = mint_token(sub=sub or str(uuid.uuid4()), roles=list(roles), **claims)
        return {"Authorization": f"Bearer {token}"}

    return headers


@pytest.fixture(autouse=True)
def _no_leaked_context() -> Iterator[None]:
    """structlog context must not leak from one test into another."""
    import structlog

    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()
