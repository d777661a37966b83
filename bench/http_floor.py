"""Two ASGI apps that do nothing a service does, to measure what the server itself costs per request.

``empty`` answers every request with a fixed JSON body: uvicorn, uvloop and httptools alone.
``one_query`` also reads one account row by its key on an asyncpg pool (``FLOOR_DATABASE_URL``), as the
ledger's balance read does, with no routing, no token and no model. Run under the same uvicorn command, at the
same rate, with the same targets as the service, they give the floor beneath a service's CPU per request on
this machine: what is above it is the service's own work (routing, token, validation, JSON), the only part a
service can cut.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any
from uuid import UUID

import asyncpg
import orjson

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

_BODY = orjson.dumps({"balance_cents": 80_000, "held_cents": 0, "available_cents": 80_000})
_ACCOUNT_SQL = "SELECT balance_cents, held_cents FROM accounts WHERE elu_id = $1"


async def _answer(send: Send, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _lifespan(receive: Receive, send: Send, state: dict[str, Any], with_pool: bool) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if with_pool:
                state["pool"] = await asyncpg.create_pool(
                    os.environ["FLOOR_DATABASE_URL"], min_size=2, max_size=4
                )
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if with_pool:
                await state["pool"].close()
            await send({"type": "lifespan.shutdown.complete"})
            return


_pools: dict[str, Any] = {}


async def empty(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send, _pools, with_pool=False)
    elif scope["type"] == "http":
        await _answer(send, _BODY)


async def one_query(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        await _lifespan(receive, send, _pools, with_pool=True)
    elif scope["type"] == "http":
        if scope["path"] == "/readyz":
            await _answer(send, b"{}")
            return
        elu_id = UUID(scope["path"].rsplit("/", 1)[1])
        async with _pools["pool"].acquire() as connection:
            row = await connection.fetchrow(_ACCOUNT_SQL, elu_id)
        body = orjson.dumps(
            {"balance_cents": row[0], "held_cents": row[1], "available_cents": row[0] - row[1]}
        )
        await _answer(send, body)
