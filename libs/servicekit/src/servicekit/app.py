"""`create_service_app`: one FastAPI app wired with everything a DIFE service shares.

Nothing is built at import time: the engine, the Kafka producer, the relay and the consumers are created in
the lifespan from the settings passed in, so tests and tools build apps with settings of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from typing import Any

import structlog
from dife_contracts import topics
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import text

from servicekit import devtokens
from servicekit.auth import TokenVerifier
from servicekit.clock import Clock
from servicekit.consumer import ConsumerSpec, EventConsumer
from servicekit.db import make_engine, make_read_pool, make_sessionmaker, plain_url
from servicekit.errors import install_problem_handlers, use_problem_documents_in_openapi
from servicekit.guard import RequestGuard
from servicekit.jobs import JobKinds, JobRunner
from servicekit.jobs_api import jobs_router
from servicekit.kafka import ensure_topics, make_producer, make_relay_producer
from servicekit.logging import RequestContextMiddleware, configure_logging
from servicekit.metrics import MetricsMiddleware, metrics_response
from servicekit.relay import OutboxRelay
from servicekit.settings import KitSettings
from servicekit.shortcuts import ReadShortcut, ReadShortcutMiddleware, bind_read_shortcuts
from servicekit.state import KitState, kit_state
from servicekit.testclock import clock_for, mount_test_clock

log = structlog.get_logger(__name__)

ExtraLifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]
ServiceState = Callable[[KitState], AbstractAsyncContextManager[Any]]
"""Builds a service's own typed state from the kit's (repositories, readers, settings) for the app's life."""


def create_service_app(
    settings: KitSettings,
    *,
    title: str,
    routers: Sequence[APIRouter],
    consumers: Sequence[ConsumerSpec] = (),
    jobs: JobKinds | None = None,
    service_state: ServiceState | None = None,
    clock: Clock | None = None,
    description: str = "",
    version: str = "1.0.0",
    body_limits: Mapping[str, int] | None = None,
    extra_lifespan: ExtraLifespan | None = None,
    read_shortcuts: Sequence[ReadShortcut] = (),
) -> FastAPI:
    """One service's app. `clock` defaults to the system's (tests pass a `MovableClock`; with the test clock
    setting, a movable one: `servicekit.testclock`); `jobs` are run by
    the app's job runner; `service_state(kit_state)` yields the service's typed state (`state_of(...)`);
    `body_limits` maps path prefixes to body sizes above `settings.max_body_bytes` (file uploads);
    `read_shortcuts` answer the success of hot GETs of `routers` without FastAPI's routing (`shortcuts`)."""
    configure_logging(json=settings.json_logs, level=settings.log_level)
    app_clock = clock or clock_for(settings)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        state = await _start(settings, consumers, jobs or JobKinds(), app_clock)
        app.state.kit = state
        try:
            async with service_state(state) if service_state else nullcontext() as service:
                state.service = service
                async with extra_lifespan(app) if extra_lifespan else nullcontext():
                    yield
        finally:
            await _stop(state)

    app = FastAPI(
        title=title,
        description=description,
        version=version,
        lifespan=lifespan,
        # The services trace with their own `traceparent` (tracing.py), not OpenTelemetry: FastAPI's native
        # telemetry off, or it looks up OpenTelemetry's global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    if read_shortcuts:  # added first, so innermost: after the guard verified the token
        bound = bind_read_shortcuts(settings.service_name, routers, read_shortcuts)
        app.add_middleware(ReadShortcutMiddleware, shortcuts=bound)
    app.add_middleware(RequestGuard, max_body_bytes=settings.max_body_bytes, body_limits=body_limits)
    app.add_middleware(MetricsMiddleware, service=settings.service_name)
    app.add_middleware(RequestContextMiddleware)
    install_problem_handlers(app)
    app.include_router(_health_router())
    if jobs is not None and jobs.kinds:
        app.include_router(jobs_router())
    for router in routers:
        app.include_router(router)
    if settings.test_clock:
        mount_test_clock(app, app_clock)
    use_problem_documents_in_openapi(app)
    return app


def ce_source_of(settings: KitSettings) -> str:
    """The CloudEvents source every event of this service carries (`dife_contracts.topics.SOURCES`)."""
    return f"/dife/{settings.service_name}"


def token_verifier_for(settings: KitSettings) -> TokenVerifier:
    """The configured key or JWKS; in development without either, the local dev key pair (`devtokens`)."""
    if settings.jwt_public_key_pem is None and settings.jwt_jwks_url is None:
        if settings.environment == "prod":
            raise RuntimeError("production needs jwt_jwks_url or jwt_public_key_pem")
        _, public_pem = devtokens.ensure_dev_keypair()
        settings = settings.model_copy(update={"jwt_public_key_pem": public_pem})
    return TokenVerifier.from_settings(settings)


async def _start(
    settings: KitSettings, consumer_specs: Sequence[ConsumerSpec], jobs: JobKinds, clock: Clock
) -> KitState:
    engine = make_engine(settings.database_url, pool_size=settings.database_pool_size)
    security = settings.kafka_security()
    producer = make_producer(
        settings.kafka_bootstrap_servers, client_id=settings.service_name, security=security
    )
    await producer.start()
    if settings.create_topics:
        physical = [settings.topic(t) for t in topics.ALL_TOPICS]
        await ensure_topics(
            settings.kafka_bootstrap_servers,
            [*physical, *(topics.dead_letter(t) for t in physical)],
            partitions=settings.topic_partitions,
            security=security,
        )
    state = KitState(
        settings=settings,
        engine=engine,
        sessionmaker=make_sessionmaker(engine, ce_source=ce_source_of(settings)),
        producer=producer,
        token_verifier=token_verifier_for(settings),
        read_pool=await make_read_pool(settings.database_url, max_size=settings.database_pool_size),
        clock=clock,
    )
    if jobs.kinds:
        state.jobs = JobRunner(
            dsn=plain_url(settings.database_url),
            sessionmaker=state.sessionmaker,
            kinds=jobs,
            service_name=settings.service_name,
            clock=clock,
            poll_interval_s=settings.job_poll_interval_s,
        )
        if settings.jobs_enabled:
            state.tasks.append(_supervise("jobs", state.jobs.run))
    if settings.relay_enabled:
        state.relay = OutboxRelay(
            dsn=plain_url(settings.database_url),
            producer=make_relay_producer(
                settings.kafka_bootstrap_servers,
                client_id=f"{settings.service_name}-relay",
                security=security,
            ),
            service_name=settings.service_name,
            topic_prefix=settings.topic_prefix,
            batch_size=settings.relay_batch_size,
            poll_interval_s=settings.relay_poll_interval_s,
        )
        state.tasks.append(_supervise("outbox-relay", state.relay.run))
    if settings.consumers_enabled:
        for spec in consumer_specs:
            consumer = EventConsumer(
                spec,
                bootstrap_servers=settings.kafka_bootstrap_servers,
                group_id=settings.group_id(spec.name),
                physical_topics=[settings.topic(t) for t in spec.topics],
                sessionmaker=state.sessionmaker,
                producer=producer,
                service_name=settings.service_name,
                topic_prefix=settings.topic_prefix,
                security=security,
                group_instance_id=(
                    f"{settings.consumer_instance_id}.{spec.name}" if settings.consumer_instance_id else None
                ),
                max_attempts=settings.consumer_max_attempts,
                backoff_s=settings.consumer_backoff_s,
                events_per_transaction=settings.consumer_events_per_transaction,
            )
            state.consumers.append(consumer)
            state.tasks.append(_supervise(f"consumer {spec.name}", consumer.run))
    return state


STOP_TIMEOUT_S = 10.0


async def _stop(state: KitState) -> None:
    for task in state.tasks:
        task.cancel()
    if state.tasks:
        _, still_running = await asyncio.wait(state.tasks, timeout=STOP_TIMEOUT_S)
        for task in still_running:
            log.error("background task ignored its cancellation; abandoning it", task=task.get_name())
    async with asyncio.timeout(STOP_TIMEOUT_S):
        await state.producer.stop()
        if state.relay is not None:
            await state.relay.stop()
    await state.read_pool.close()
    await state.engine.dispose()


def _supervise(name: str, run: Callable[[], Coroutine[Any, Any, None]]) -> asyncio.Task[None]:
    """Run a background loop for the app's lifetime, restarting it after a crash (its state is in the DB
    and in committed offsets, so a restart resumes where the last durable step left off)."""

    async def forever() -> None:
        delay = 0.5
        while True:
            try:
                await run()
                return
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.error("background task crashed; restarting", task=name, error=repr(error), delay_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)

    return asyncio.create_task(forever(), name=name)


def _health_router() -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Readiness: the database and Kafka answer",
        responses={
            503: {
                "description": "The database or Kafka does not answer (the body says which)",
                "x-not-a-problem": True,
            }
        },
    )
    async def readyz(request: Request) -> JSONResponse:
        state = kit_state(request.app)
        checks: dict[str, str] = {}
        try:
            async with asyncio.timeout(2):
                async with state.engine.connect() as connection:
                    await connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as error:
            checks["database"] = f"unavailable: {type(error).__name__}"
        try:
            async with asyncio.timeout(2):
                await state.producer.client.fetch_all_metadata()
            checks["kafka"] = "ok"
        except Exception as error:
            checks["kafka"] = f"unavailable: {type(error).__name__}"
        ready = all(value == "ok" for value in checks.values())
        return JSONResponse(
            {"status": "ready" if ready else "not ready", "checks": checks}, 200 if ready else 503
        )

    @router.get("/metrics", summary="Prometheus metrics", include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return metrics_response()

    return router
