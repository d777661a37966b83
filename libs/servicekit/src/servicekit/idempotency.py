"""``Idempotency-Key`` for creating POSTs: the same key with the same request returns the first answer.

The key row is inserted first, in the request's own transaction, with ``ON CONFLICT DO NOTHING``: a
concurrent duplicate waits on the unique key until the first commits, then replays its answer. An error
rolls the key back with everything else, so a failed request can be retried with the same key.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from servicekit.auth import Principal
from servicekit.errors import DomainError, problem_type
from servicekit.tables import idempotency_keys

IDEMPOTENCY_HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"


class InvalidIdempotencyKey(DomainError):
    status = 400
    type = problem_type("invalid-idempotency-key")
    title = "Invalid Idempotency-Key header"


class IdempotencyKeyReused(DomainError):
    status = 409
    type = problem_type("idempotency-key-reused")
    title = "Idempotency-Key already used for another request"


def _owner(principal: Principal | None) -> str:
    """The whole identity a key belongs to: a sub acting for another SIRET, SIREN or élu is another owner."""
    if principal is None:
        return "anonymous"
    parts = [
        principal.sub,
        ",".join(sorted(principal.roles)),
        principal.siret or "",
        principal.siren or "",
        str(principal.claims.get("elu_id") or ""),
    ]
    return "|".join(parts)


def _request_hash(request: Request, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (request.method, request.url.path, request.url.query):
        digest.update(part.encode())
        digest.update(b"\0")
    digest.update(body)
    return digest.hexdigest()


async def idempotent(
    session: AsyncSession,
    request: Request,
    principal: Principal | None,
    compute: Callable[[], Awaitable[tuple[int, Any]]],
    *,
    body_digest: str | None = None,
) -> JSONResponse:
    """Run ``compute`` (returning ``(status, body)``) once per ``Idempotency-Key``; replay its answer then.

    ``body_digest``: a fingerprint of the body (e.g. its SHA-256) when the endpoint streamed the body itself
    (a large upload, never held whole in memory): it stands for the body in the request's fingerprint."""
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        status, body = await compute()
        return JSONResponse(jsonable_encoder(body), status_code=status)
    if not 1 <= len(key) <= 255:
        raise InvalidIdempotencyKey("Idempotency-Key must be 1 to 255 characters")
    owner = _owner(principal)
    body = body_digest.encode() if body_digest is not None else await request.body()
    request_hash = _request_hash(request, body)
    inserted = await session.scalar(
        pg_insert(idempotency_keys)
        .values(principal=owner, key=key, request_hash=request_hash)
        .on_conflict_do_nothing()
        .returning(idempotency_keys.c.key)
    )
    if inserted is None:
        stored = (
            await session.execute(
                select(
                    idempotency_keys.c.request_hash,
                    idempotency_keys.c.status_code,
                    idempotency_keys.c.response,
                ).where(idempotency_keys.c.principal == owner, idempotency_keys.c.key == key)
            )
        ).one()
        if stored.request_hash != request_hash:
            raise IdempotencyKeyReused(f"Idempotency-Key {key!r} was first used with another request body")
        return JSONResponse(stored.response, status_code=stored.status_code, headers={REPLAY_HEADER: "true"})
    status, body = await compute()
    encoded = jsonable_encoder(body)
    await session.execute(
        update(idempotency_keys)
        .where(idempotency_keys.c.principal == owner, idempotency_keys.c.key == key)
        .values(status_code=status, response=encoded)
    )
    return JSONResponse(encoded, status_code=status)
