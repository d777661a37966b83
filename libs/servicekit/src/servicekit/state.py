"""The typed state an app's lifespan builds and hands to dependencies (``app.state.kit``)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI, Request
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from servicekit.clock import Clock
from servicekit.settings import KitSettings

if TYPE_CHECKING:
    from servicekit.auth import TokenVerifier
    from servicekit.consumer import EventConsumer
    from servicekit.jobs import JobRunner
    from servicekit.relay import OutboxRelay


@dataclass
class KitState:
    settings: KitSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    producer: AIOKafkaProducer
    token_verifier: TokenVerifier
    read_pool: asyncpg.Pool
    clock: Clock
    relay: OutboxRelay | None = None
    jobs: JobRunner | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    service: Any = None
    """The service's own typed state (built by `create_service_app(service_state=…)`); read it with
    `state_of(MyState)`."""


def kit_state(app: FastAPI) -> KitState:
    state: KitState = app.state.kit
    return state


S = TypeVar("S")


def state_of(state_type: type[S]) -> Callable[[Request], Coroutine[Any, Any, S]]:
    """The service's typed state as a dependency: ``Annotated[MyState, Depends(state_of(MyState))]``.

    A coroutine on purpose: FastAPI runs a plain-function dependency in its thread pool, a hand-off that
    cost a balance read about a fifth of its CPU (py-spy, issue 17)."""

    async def dependency(request: Request) -> S:
        service = kit_state(request.app).service
        if not isinstance(service, state_type):
            raise RuntimeError(
                f"the app's service state is {type(service).__name__}, not {state_type.__name__}"
            )
        return service

    dependency.__name__ = f"state_of_{state_type.__name__}"
    _STATE_DEPENDENCIES.add(dependency)
    return dependency


_STATE_DEPENDENCIES: set[Callable[..., Any]] = set()


def is_state_dependency(dependency: Callable[..., Any]) -> bool:
    """Whether `dependency` only hands over the service's state (`state_of`): a read shortcut, which
    passes that state itself, may stand in for a route taking it."""
    return dependency in _STATE_DEPENDENCIES
