"""Dependencies of the routers: the use-case context on the request's transaction, callers from the token."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from dife_contracts.enums import Role
from fastapi import Depends, Query, Request
from servicekit.api import SessionDep
from servicekit.auth import Principal
from servicekit.errors import Forbidden
from servicekit.jobs import SessionScheduler
from servicekit.outbox import SessionOutbox
from servicekit.pagination import DEFAULT_LIMIT, MAX_CURSOR_LENGTH, MAX_LIMIT, PageParams
from servicekit.state import kit_state

from dossier.adapters.lists import SqlLists
from dossier.adapters.repository import SqlRepository
from dossier.use_cases.access import Caller
from dossier.use_cases.ports import Context


async def _context(request: Request, session: SessionDep) -> Context:
    """Async, so FastAPI builds it on the event loop rather than in its thread pool."""
    return Context(
        repo=SqlRepository(session),
        outbox=SessionOutbox(session),
        scheduler=SessionScheduler(session),
        clock=kit_state(request.app).clock,
    )


ContextDep = Annotated[Context, Depends(_context)]


async def _lists(request: Request) -> SqlLists:
    """The list reads on servicekit's plain read pool: no transaction, no ORM session (issue 9)."""
    return SqlLists(kit_state(request.app).read_pool)


ListsDep = Annotated[SqlLists, Depends(_lists)]


async def _page(
    cursor: Annotated[
        str | None,
        Query(max_length=MAX_CURSOR_LENGTH, description="`next_cursor` of the previous page; none first"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Items per page")] = DEFAULT_LIMIT,
) -> PageParams:
    """servicekit's `PageParams` (same query parameters), built by an async function: as a class
    dependency, FastAPI would build it in its thread pool, a thread hop per list request."""
    return PageParams(cursor=cursor, limit=limit)


PageDep = Annotated[PageParams, Depends(_page)]


def as_elu(principal: Principal) -> Caller:
    """The élu the token speaks for (its `elu_id` claim, else `sub`): never an id from the body."""
    elu_id = principal.elu_id
    if elu_id is None:
        raise Forbidden("an élu token is required")
    try:
        return Caller(Role.ELU.value, principal.sub, elu_id=UUID(elu_id))
    except ValueError as error:
        raise Forbidden("the token's élu id is not a UUID") from error


def as_organisme(principal: Principal) -> Caller:
    if not principal.has_role(Role.ORGANISME) or principal.siret is None:
        raise Forbidden("an organisme token with its SIRET is required")
    return Caller(Role.ORGANISME.value, principal.sub, siret=principal.siret)


def as_agent(principal: Principal) -> Caller:
    if not principal.is_staff:
        raise Forbidden("an agent token is required")
    return Caller(Role.AGENT.value, principal.sub)


def readers(principal: Principal) -> list[Caller]:
    """Every role of the token that may read dossiers, each with its own ownership rule."""
    callers: list[Caller] = []
    if principal.is_staff:
        callers.append(as_agent(principal))
    if principal.has_role(Role.ORGANISME) and principal.siret is not None:
        callers.append(as_organisme(principal))
    if principal.has_role(Role.ELU):
        callers.append(as_elu(principal))
    return callers
