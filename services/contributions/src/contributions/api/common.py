"""What the routers share: the service state (clock, policy), the outbox and repository of a request,
reading a bounded body."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from servicekit.api import SessionDep
from servicekit.clock import Clock
from servicekit.errors import DomainError, PayloadTooLarge, problem_type
from servicekit.outbox import SessionOutbox
from servicekit.state import state_of

from contributions.adapters.repository import ContributionsRepository
from contributions.domain.policy import ContributionPolicy


@dataclass(frozen=True)
class ContributionsState:
    """The service's typed state (servicekit's `service_state`): the app's clock, the R-CON policy."""

    clock: Clock
    policy: ContributionPolicy
    max_upload_bytes: int


StateDep = Annotated[ContributionsState, Depends(state_of(ContributionsState))]


def _repository(session: SessionDep) -> ContributionsRepository:
    return ContributionsRepository(session)


def _outbox(session: SessionDep) -> SessionOutbox:
    return SessionOutbox(session)


RepositoryDep = Annotated[ContributionsRepository, Depends(_repository)]
OutboxDep = Annotated[SessionOutbox, Depends(_outbox)]


class UnsupportedMediaType(DomainError):
    status = 415
    type = problem_type("unsupported-media-type")
    title = "Unsupported media type"


async def bounded_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) beyond `limit` bytes (servicekit's guard enforces the same limit first,
    from `body_limits`); cached on the request for the `Idempotency-Key` hash."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    request._body = body  # Starlette's cache: `Idempotency-Key` hashing reads the body again
    return body


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
