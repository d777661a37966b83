"""The platform as it runs in production: each service a real uvicorn process on its own database, all on
the real Kafka, talking only through events. Topics are namespaced per test run."""

from __future__ import annotations

import asyncio
import importlib.util
import os
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import ModuleType

import httpx
import pytest
from servicekit.testing import Infra, migrate
from servicekit.testing.plugin import TEST_AUDIENCE, TEST_ISSUER, JwtKeys

# pytest runs with --import-mode=importlib: journeys and the fault suite import this folder's `driver` by name
sys.path.insert(0, str(Path(__file__).parent))
from driver import START, Dife

ROOT = Path(__file__).resolve().parents[1]
LOGS = ROOT / ".local" / "logs" / "e2e" / os.environ.get("PYTEST_XDIST_WORKER", "main")
"""Each xdist worker runs its own six services: their logs go to a folder of its own (gw0, gw1, …)."""


def _service_registry() -> ModuleType:
    """The one list of services and their ports, shared with `make run` (deploy/local/run.py)."""
    spec = importlib.util.spec_from_file_location("dife_run", ROOT / "deploy" / "local" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class RunningService:
    name: str
    base_url: str
    process: asyncio.subprocess.Process
    log: Path

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base_url, timeout=10)


@dataclass
class Platform:
    services: dict[str, RunningService]
    topic_prefix: str
    infra: Infra

    def topic(self, logical: str) -> str:
        return self.topic_prefix + logical

    @property
    def urls(self) -> dict[str, str]:
        return {name: service.base_url for name, service in self.services.items()}

    async def set_clock(self, at: datetime) -> None:
        """Put the test clock of every service at `at` together (`servicekit.testclock`)."""
        async with httpx.AsyncClient(timeout=10) as client:
            answers = await asyncio.gather(
                *(
                    client.put(f"{url}/_test/clock", json={"now": at.isoformat()})
                    for url in self.urls.values()
                )
            )
        for answer in answers:
            answer.raise_for_status()


async def _ready(service: RunningService, timeout_s: float = 300) -> bool:
    deadline = time.monotonic() + timeout_s
    async with service.client() as client:
        while time.monotonic() < deadline and service.process.returncode is None:
            try:
                if (await client.get("/readyz")).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            await asyncio.sleep(0.2)
    return False


async def _spawn(name: str, package: str, env: dict[str, str]) -> RunningService:
    port = _free_port()
    log = LOGS / f"{name}.log"
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "uvicorn", "--factory", f"{package}.app:create_app_from_env"),
            *("--host", "127.0.0.1", "--port", str(port), "--no-access-log"),
            env=env,
            cwd=ROOT,
            stdout=output,
            stderr=asyncio.subprocess.STDOUT,
        )
    return RunningService(name, f"http://127.0.0.1:{port}", process, log)


async def _start(name: str, package: str, env: dict[str, str], running: dict[str, RunningService]) -> None:
    """Start a service and wait until ready; again on another port when the free port it was given got
    taken meanwhile (the machine is shared: minutes can pass between probing a port and binding it)."""
    for _ in range(3):
        running[name] = service = await _spawn(name, package, env)
        if await _ready(service):
            return
        if "address already in use" not in service.log.read_text(errors="replace"):
            break
        await service.process.wait()
    tail = running[name].log.read_text(errors="replace")[-4000:]
    pytest.fail(f"{name} did not become ready; its log ({running[name].log}):\n{tail}", pytrace=False)


@pytest.fixture(scope="session")
async def platform(
    infra: Infra,
    database_factory: Callable[[], Awaitable[str]],
    jwt_keys: JwtKeys,
    topic_prefix: str,
) -> AsyncIterator[Platform]:
    registry = _service_registry()
    prefix = f"{topic_prefix}e2e."
    LOGS.mkdir(parents=True, exist_ok=True)
    running: dict[str, RunningService] = {}
    starting: list[asyncio.Task[None]] = []  # each service starts while the next one migrates
    try:
        for service in (s for s in registry.SERVICES if s.exists):
            database_url = await database_factory()
            await migrate(service.folder / "alembic.ini", database_url)
            settings = {
                "ENVIRONMENT": "test",
                "DATABASE_URL": database_url,
                "KAFKA_BOOTSTRAP_SERVERS": infra.kafka_bootstrap,
                "TOPIC_PREFIX": prefix,
                "TOPIC_PARTITIONS": "3",
                "JWT_PUBLIC_KEY_PEM": jwt_keys.public_pem,
                "JWT_ISSUER": TEST_ISSUER,
                "JWT_AUDIENCE": TEST_AUDIENCE,
                "RELAY_POLL_INTERVAL_S": "0.2",
                "TEST_CLOCK": "true",
                "JOB_POLL_INTERVAL_S": "0.5",
            }
            env = {**os.environ, **{f"{service.env_prefix}_{k}": v for k, v in settings.items()}}
            env["LEDGER_NIR_HMAC_KEY"] = "e2e-nir-key"
            starting.append(asyncio.create_task(_start(service.name, service.package, env, running)))
        await asyncio.gather(*starting)
        platform = Platform(services=running, topic_prefix=prefix, infra=infra)
        await platform.set_clock(START)
        yield platform
    finally:
        for service in running.values():
            service.process.terminate()
        for service in running.values():
            try:
                async with asyncio.timeout(15):
                    await service.process.wait()
            except TimeoutError:
                service.process.kill()


@pytest.fixture(scope="session")
async def dife(platform: Platform, mint_token: Callable[..., str]) -> AsyncIterator[Dife]:
    """The platform's public APIs as its users drive them (`driver.py`), one client for the whole run."""
    async with Dife.connect(platform.urls, mint_token) as client:
        yield client
