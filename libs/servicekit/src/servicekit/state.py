"""The typed state an app's lifespan builds and hands to dependencies (``app.state.kit``)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import asyncpg
from aiokafka import AIOKafkaProducer
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from servicekit.settings import KitSettings

if TYPE_CHECKING:
    from servicekit.auth import TokenVerifier
    from servicekit.consumer import EventConsumer
    from servicekit.relay import OutboxRelay


@dataclass
class KitState:
    settings: KitSettings
    engine: AsyncEngine
    sessionmaker: async_sessionmaker[AsyncSession]
    producer: AIOKafkaProducer
    token_verifier: TokenVerifier
    read_pool: asyncpg.Pool
    relay: OutboxRelay | None = None
    consumers: list[EventConsumer] = field(default_factory=list)
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    extras: dict[str, Any] = field(default_factory=dict)


def kit_state(app: FastAPI) -> KitState:
    state: KitState = app.state.kit
    return state
