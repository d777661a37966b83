"""A database that is away answers 503 with Retry-After (retry later), a bug in a query still answers 500.

The errors are the real ones: asyncpg and SQLAlchemy talking to the real PostgreSQL, or to a port where
nothing listens.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest
import sqlalchemy
from fastapi import FastAPI
from servicekit.db import make_engine, make_read_pool, plain_url
from servicekit.errors import PROBLEM_MEDIA_TYPE, install_problem_handlers, is_dependency_outage, problem_type
from servicekit.testing import eventually
from sqlalchemy.ext.asyncio import AsyncEngine


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def make_app(engine: AsyncEngine, unreachable: AsyncEngine, database_url: str) -> FastAPI:
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/unreachable")
    async def unreachable_database() -> dict[str, int]:
        async with unreachable.connect() as connection:
            return {"one": (await connection.execute(sqlalchemy.text("SELECT 1"))).scalar_one()}

    @app.get("/terminated")
    async def connection_terminated_mid_request() -> dict[str, int]:
        async with engine.connect() as connection:
            await connection.execute(sqlalchemy.text("SELECT pg_terminate_backend(pg_backend_pid())"))
        return {"one": 1}

    @app.get("/read-pool-terminated")
    async def read_pool_connection_terminated() -> dict[str, int]:
        pool = await make_read_pool(database_url, max_size=1)
        try:
            async with pool.acquire() as connection:
                await connection.fetchval("SELECT pg_terminate_backend(pg_backend_pid())")
        finally:
            pool.terminate()
        return {"one": 1}

    @app.get("/division-by-zero")
    async def query_bug() -> dict[str, int]:
        async with engine.connect() as connection:
            return {"one": (await connection.execute(sqlalchemy.text("SELECT 1/0"))).scalar_one()}

    return app


@pytest.fixture
async def client(fresh_database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    engine = make_engine(fresh_database_url, pool_size=2)
    unreachable = make_engine(f"postgresql+asyncpg://dife@127.0.0.1:{_closed_port()}/nowhere", pool_size=1)
    transport = httpx.ASGITransport(
        app=make_app(engine, unreachable, fresh_database_url), raise_app_exceptions=False
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
        yield http
    await engine.dispose()
    await unreachable.dispose()


def _assert_retry_later(response: httpx.Response) -> None:
    assert response.status_code == 503
    assert response.headers["content-type"] == PROBLEM_MEDIA_TYPE
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["type"] == problem_type("service-unavailable")
    assert body["status"] == 503
    assert "Traceback" not in response.text
    assert "127.0.0.1" not in response.text


async def test_a_database_refusing_connections_answers_503_with_retry_after(
    client: httpx.AsyncClient,
) -> None:
    _assert_retry_later(await client.get("/unreachable"))


async def test_a_connection_terminated_by_the_server_answers_503(client: httpx.AsyncClient) -> None:
    _assert_retry_later(await client.get("/terminated"))


async def test_a_read_pool_connection_terminated_by_the_server_answers_503(client: httpx.AsyncClient) -> None:
    _assert_retry_later(await client.get("/read-pool-terminated"))


async def test_a_failing_query_is_still_a_500_not_an_outage(client: httpx.AsyncClient) -> None:
    response = await client.get("/division-by-zero")

    assert response.status_code == 500
    assert response.json()["type"] == problem_type("internal-error")
    assert "retry-after" not in response.headers


def test_outage_is_found_through_the_wrapping_chain() -> None:
    lost = asyncpg.exceptions.ConnectionDoesNotExistError("gone")
    wrapped = sqlalchemy.exc.InterfaceError("SELECT 1", {}, lost)
    assert is_dependency_outage(wrapped)
    assert is_dependency_outage(ConnectionRefusedError(111, "refused"))
    assert not is_dependency_outage(sqlalchemy.exc.IntegrityError("INSERT", {}, ValueError("duplicate key")))
    assert not is_dependency_outage(PermissionError(13, "denied"))


async def test_a_pooled_connection_closed_by_the_server_is_replaced_at_checkout(
    fresh_database_url: str,
) -> None:
    """No pre-ping round trip: the pool sees at checkout that the server closed the connection's socket, and
    the next transaction runs on a new connection instead of failing."""
    engine = make_engine(fresh_database_url, pool_size=1)
    try:
        async with engine.connect() as connection:
            first_pid = (await connection.execute(sqlalchemy.text("SELECT pg_backend_pid()"))).scalar_one()
            driver = (await connection.get_raw_connection()).driver_connection
        killer = await asyncpg.connect(plain_url(fresh_database_url))
        try:
            assert await killer.fetchval("SELECT pg_terminate_backend($1)", first_pid)
        finally:
            await killer.close()

        async def closed() -> bool:
            return bool(driver.is_closed())

        assert await eventually(closed)

        async with engine.connect() as connection:
            pid = (await connection.execute(sqlalchemy.text("SELECT pg_backend_pid()"))).scalar_one()

        assert pid != first_pid
    finally:
        await engine.dispose()


async def test_a_burst_beyond_the_pool_waits_for_pooled_connections_and_opens_no_other(
    fresh_database_url: str,
) -> None:
    """Twelve transactions at once on a pool of three run on those three connections (each backend is one
    PostgreSQL process forked once), never on extra ones opened for the burst and closed after it."""
    engine = make_engine(fresh_database_url, pool_size=3)

    async def backend_pid() -> int:
        async with engine.connect() as connection:
            pid = (await connection.execute(sqlalchemy.text("SELECT pg_backend_pid()"))).scalar_one()
            await connection.execute(sqlalchemy.text("SELECT pg_sleep(0.05)"))  # held while the others ask
            return int(pid)

    try:
        pids = await asyncio.gather(*(backend_pid() for _ in range(12)))
    finally:
        await engine.dispose()
    assert len(pids) == 12
    assert len(set(pids)) == 3
