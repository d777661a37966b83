"""What the catalogue's routers share: turning domain refusals into problems, the optional caller, events."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated

from dife_contracts import Event
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials
from servicekit.auth import Principal, optional_bearer_scheme
from servicekit.errors import Conflict, RuleBroken, RuleViolation
from servicekit.outbox import enqueue
from servicekit.state import kit_state
from sqlalchemy.ext.asyncio import AsyncSession

from catalogue.domain.violations import InvalidTransition, RulesBroken

EVENT_SOURCE = "/dife/catalogue"


@contextmanager
def domain_refusals() -> Iterator[None]:
    """Broken rules → 422 listing every rule id; a step the lifecycle does not allow → 409."""
    try:
        yield
    except RulesBroken as broken:
        raise RuleViolation(rules=[RuleBroken(b.rule, b.detail) for b in broken.broken]) from broken
    except InvalidTransition as refused:
        raise Conflict(str(refused)) from refused


async def _optional_principal(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(optional_bearer_scheme)],
) -> Principal | None:
    """Public endpoints that show more to an owner: the caller if a token is sent (it must then be valid)."""
    if credentials is None:
        return None
    return await kit_state(request.app).token_verifier.verify(credentials.credentials)


OptionalPrincipal = Annotated[Principal | None, Depends(_optional_principal)]


async def emit(session: AsyncSession, *events: Event) -> None:
    """Write events to the outbox in the request's transaction."""
    for event in events:
        await enqueue(session, event, source=EVENT_SOURCE)
