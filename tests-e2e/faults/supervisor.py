"""The six services as processes this suite owns: started, killed with SIGKILL, restarted on the same port,
and the stack under them (Kafka, PostgreSQL) restarted through `deploy/local/stack.py`.

Why not the `platform` fixture of tests-e2e/conftest.py: its processes cannot be killed and brought back on
the same address with the same settings, and a restarted service must get the platform's test-clock time
back before it serves journeys.

Safety: Kafka and PostgreSQL are restarted only when THIS checkout's `.local/` owns the running broker and
server (their pid files live there) and they listen on the ports the environment names. A shared stack
started from another checkout can therefore never be restarted by this suite.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import signal
import socket
import sys
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import ModuleType
from urllib.parse import urlsplit

import httpx
from servicekit.kafka import delete_topics
from servicekit.testing import create_database, drop_databases, migrate

ROOT = Path(__file__).resolve().parents[2]
LOGS = ROOT / ".local" / "logs" / "faults"
TEST_ISSUER = "dife-tests"
TEST_AUDIENCE = "dife"


def load_module(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def process_cpu_seconds(pid: int | None, *, with_children: bool = False) -> float:
    """User + system CPU of `pid` (from /proc/<pid>/stat), with its children's when asked: those it has
    reaped (PostgreSQL's ended backends) and those alive (its running backends). 0 when it is gone."""
    if pid is None:
        return 0.0
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    ticks = int(fields[11]) + int(fields[12])
    if with_children:
        ticks += int(fields[13]) + int(fields[14])
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                child = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(child[1]) == pid:
                ticks += int(child[11]) + int(child[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def service_registry() -> tuple[ServiceSpec, ...]:
    """The services as `make run` knows them (deploy/local/run.py is the one list)."""
    run = load_module("dife_run_registry", ROOT / "deploy" / "local" / "run.py")
    return tuple(ServiceSpec(s.name, s.env_prefix, s.package, s.folder) for s in run.SERVICES if s.exists)


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    env_prefix: str
    package: str
    folder: Path


@dataclass
class ServiceProcess:
    """One service under supervision; `restarts` and `kills` count what the suite did to it."""

    spec: ServiceSpec
    port: int
    env: dict[str, str]
    log: Path
    process: asyncio.subprocess.Process | None = None
    kills: int = 0
    restarts: int = 0
    cpu_spent_s: float = 0.0  # by the processes of this service that are gone (killed, stopped)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    async def start(self) -> None:
        with self.log.open("ab") as output:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "uvicorn",
                "--factory",
                f"{self.spec.package}.app:create_app_from_env",
                *("--host", "127.0.0.1", "--port", str(self.port), "--no-access-log"),
                env=self.env,
                cwd=ROOT,
                stdout=output,
                stderr=asyncio.subprocess.STDOUT,
            )

    async def wait_ready(self, timeout_s: float = 600) -> None:
        deadline = time.monotonic() + timeout_s
        async with httpx.AsyncClient(base_url=self.base_url, timeout=5) as client:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.returncode is not None:
                    break
                try:
                    if (await client.get("/readyz")).status_code == 200:
                        return
                except httpx.TransportError:
                    pass
                await asyncio.sleep(0.2)
        tail = self.log.read_text(errors="replace")[-4000:]
        raise AssertionError(f"{self.spec.name} did not become ready; its log ({self.log}):\n{tail}")

    async def kill9(self) -> None:
        """SIGKILL: no shutdown hook runs, in-flight transactions are lost half-way, as in a crash."""
        assert self.process is not None
        if self.process.returncode is None:
            self.cpu_spent_s += self.cpu_seconds()
            self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        self.kills += 1

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.cpu_spent_s += self.cpu_seconds()
        self.process.terminate()
        try:
            async with asyncio.timeout(20):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()

    def peak_rss_mb(self) -> float:
        """VmHWM of the running process (its largest resident set so far)."""
        try:
            status = Path(f"/proc/{self.pid}/status").read_text()
        except OSError:
            return 0.0
        for line in status.splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
        return 0.0

    def cpu_seconds(self) -> float:
        """User + system CPU time of the running process (from /proc/<pid>/stat)."""
        if self.process is None or self.process.returncode is not None:
            return 0.0
        return process_cpu_seconds(self.pid)

    def total_cpu_seconds(self) -> float:
        """CPU of every process this service has had, the running one included."""
        return self.cpu_spent_s + self.cpu_seconds()


class Stack:
    """Kafka and PostgreSQL of this checkout's `.local/`, restartable (see the module's safety note)."""

    def __init__(self, kafka_bootstrap: str, pg_admin_url: str) -> None:
        self.kafka_bootstrap = kafka_bootstrap
        self.pg_admin_url = pg_admin_url
        self.module = load_module("dife_stack_for_faults", ROOT / "deploy" / "local" / "stack.py")
        self.kafka_restarts = 0
        self.pg_restarts = 0
        self.cpu_spent_s = {"kafka": 0.0, "postgres": 0.0}  # by a broker or server restarted since

    def cpu_seconds(self) -> dict[str, float]:
        """CPU of Kafka and PostgreSQL (its backends included) since they started, restarts summed."""
        return {
            "kafka": self.cpu_spent_s["kafka"] + process_cpu_seconds(self.module.kafka_pid()),
            "postgres": self.cpu_spent_s["postgres"]
            + process_cpu_seconds(self.module.postmaster_pid(), with_children=True),
        }

    def is_this_checkouts(self) -> bool:
        """Whether Kafka and PostgreSQL were started from this checkout's `.local/` (their pids are known)."""
        return self.module.kafka_pid() is not None and self.module.postmaster_pid() is not None

    def ensure_owned(self) -> None:
        """Refuse to restart anything this checkout did not start, on ports other than the environment's."""
        kafka_port = int(self.kafka_bootstrap.split(",")[0].rsplit(":", 1)[1])
        pg_port = urlsplit(self.pg_admin_url).port or 5432
        if (self.module.kafka_port(), self.module.pg_port()) != (kafka_port, pg_port):
            raise AssertionError(
                f"the fault suite restarts Kafka and PostgreSQL: DIFE_KAFKA_PORT/DIFE_PG_PORT "
                f"({self.module.kafka_port()}/{self.module.pg_port()}) must name the stack the tests use "
                f"({kafka_port}/{pg_port})"
            )
        if not self.is_this_checkouts():
            raise AssertionError(
                f"the fault suite restarts Kafka and PostgreSQL, so they must be the stack of this checkout "
                f"({ROOT / '.local'}), started with `stack.py up` and the same DIFE_KAFKA_PORT/DIFE_PG_PORT"
            )

    async def restart_kafka(self) -> float:
        """SIGTERM the broker, start it again on the same data; returns the seconds it was away."""
        self.ensure_owned()
        started = time.monotonic()
        self.cpu_spent_s["kafka"] += process_cpu_seconds(self.module.kafka_pid())
        await asyncio.to_thread(self.module.stop_kafka)
        await asyncio.to_thread(self.module.start_kafka)
        self.kafka_restarts += 1
        return time.monotonic() - started

    async def restart_postgres(self) -> float:
        """PostgreSQL's fast shutdown (clients cut, nothing committed lost) then a start on the same data."""
        self.ensure_owned()
        started = time.monotonic()
        pid = self.module.postmaster_pid()
        self.cpu_spent_s["postgres"] += process_cpu_seconds(pid, with_children=True)
        await asyncio.to_thread(self.module.stop_pg)
        await asyncio.to_thread(self.module.start_pg)
        self.pg_restarts += 1
        return time.monotonic() - started


@dataclass
class Platform:
    """Six supervised services on their own databases and topic prefix."""

    stack: Stack
    topic_prefix: str
    databases: dict[str, str]  # service name -> SQLAlchemy asyncpg URL
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    clock: datetime | None = None  # the platform's test-clock time, given back to restarted services
    serving: dict[str, asyncio.Event] = field(default_factory=dict)  # set: journeys may call it

    def url(self, service: str) -> str:
        return self.services[service].base_url

    def plain_dsn(self, service: str) -> str:
        return self.databases[service].replace("postgresql+asyncpg://", "postgresql://", 1)

    def active_group_prefixes(self) -> tuple[str, ...]:
        """The consumer groups the running services read in (a replay gives them new ones)."""
        return tuple(
            f"{self.topic_prefix}{s.env.get(f'{s.spec.env_prefix}_CONSUMER_GROUP', s.spec.name)}."
            for s in self.services.values()
        )

    async def available(self, name: str) -> None:
        """Until `name` serves journeys: like an orchestrator's readiness gate, a restarted service gets
        traffic only once it is ready AND has the platform's clock (it starts on the real time, and a
        request served on it would be dated months away from the journeys)."""
        await self.serving.setdefault(name, _set_event()).wait()

    async def set_clock(
        self, now: datetime, names: Iterable[str] | None = None, patience_s: float = 900
    ) -> None:
        """Every (named) service's test clock at `now`; a service being restarted is waited for (its restart
        hands it the platform's clock too)."""
        self.clock = now
        await asyncio.gather(*(self._give_clock(name, patience_s) for name in names or self.services))

    async def _give_clock(self, name: str, patience_s: float = 900) -> None:
        """PUT the platform's clock, again if it moved meanwhile (a restart racing a phase's clock move)."""
        deadline = time.monotonic() + patience_s
        given: datetime | None = None
        async with httpx.AsyncClient(timeout=30) as client:
            while self.clock is not None and given != self.clock:
                now = self.clock
                try:
                    answer = await client.put(f"{self.url(name)}/_test/clock", json={"now": now.isoformat()})
                    answer.raise_for_status()
                    given = now
                except (httpx.TransportError, httpx.HTTPStatusError):
                    if time.monotonic() > deadline:
                        raise
                    await asyncio.sleep(1)

    async def restart(self, name: str, attempts: int = 5) -> None:
        """Bring a killed service back on the same port; give it the platform's clock once it answers, and
        only then let journeys reach it.

        A service started while Kafka or PostgreSQL is still away exits; like an orchestrator's restart
        policy, it is started again (up to `attempts` times)."""
        service = self.services[name]
        for attempt in range(attempts):
            await service.start()
            try:
                await service.wait_ready()
                break
            except AssertionError:
                if attempt == attempts - 1:
                    raise
                await service.stop()
                await asyncio.sleep(2)
        await self._give_clock(name)
        self.serving.setdefault(name, asyncio.Event()).set()
        service.restarts += 1

    async def kill_and_restart(self, name: str) -> None:
        self.serving.setdefault(name, asyncio.Event()).clear()
        await self.services[name].kill9()
        await self.restart(name)

    async def stop(self) -> None:
        await asyncio.gather(*(s.stop() for s in self.services.values()))


def _set_event() -> asyncio.Event:
    event = asyncio.Event()
    event.set()
    return event


def service_env(
    spec: ServiceSpec,
    *,
    database_url: str,
    kafka_bootstrap: str,
    topic_prefix: str,
    public_pem: str,
    test_clock: bool,
    consumer_group: str | None = None,
) -> dict[str, str]:
    settings = {
        "ENVIRONMENT": "test",
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "TOPIC_PREFIX": topic_prefix,
        "TOPIC_PARTITIONS": "3",
        "JWT_PUBLIC_KEY_PEM": public_pem,
        "JWT_ISSUER": TEST_ISSUER,
        "JWT_AUDIENCE": TEST_AUDIENCE,
        "RELAY_POLL_INTERVAL_S": "0.2",
        "LOG_LEVEL": "WARNING",
    }
    if test_clock:
        settings["TEST_CLOCK"] = "true"
    if consumer_group is not None:
        settings["CONSUMER_GROUP"] = consumer_group
    env = {**os.environ, **{f"{spec.env_prefix}_{k}": v for k, v in settings.items()}}
    env["LEDGER_NIR_HMAC_KEY"] = "faults-nir-key"
    return env


async def start_platform(
    stack: Stack, public_pem: str, *, test_clock: bool = True, run_id: str | None = None
) -> Platform:
    """Fresh databases (migrated) and a fresh topic prefix, then the six services, all ready."""
    run_id = run_id or uuid.uuid4().hex[:8]
    LOGS.mkdir(parents=True, exist_ok=True)
    specs = service_registry()
    databases: dict[str, str] = {}
    platform = Platform(stack=stack, topic_prefix=f"faults.{run_id}.", databases=databases)
    try:
        for spec in specs:
            databases[spec.name] = await create_database(
                stack.pg_admin_url, f"faults_{run_id}_{spec.package}"
            )
        # one after the other: alembic's env.py runs its own event loop, which concurrent threads cannot share
        for spec in specs:
            await migrate(spec.folder / "alembic.ini", databases[spec.name])
        await _start_services(platform, specs, public_pem, test_clock=test_clock)
    except BaseException:
        await dispose_platform(platform)  # a failed start leaves no database or topic behind
        raise
    return platform


async def _start_services(
    platform: Platform, specs: tuple[ServiceSpec, ...], public_pem: str, *, test_clock: bool
) -> None:
    stack, databases, run_id = platform.stack, platform.databases, platform.topic_prefix.split(".")[1]
    for spec in specs:
        env = service_env(
            spec,
            database_url=databases[spec.name],
            kafka_bootstrap=stack.kafka_bootstrap,
            topic_prefix=platform.topic_prefix,
            public_pem=public_pem,
            test_clock=test_clock,
        )
        log = LOGS / f"{run_id}-{spec.name}.log"
        platform.services[spec.name] = ServiceProcess(spec=spec, port=_free_port(), env=env, log=log)
    await asyncio.gather(*(_start_on_a_free_port(s) for s in platform.services.values()))


async def _start_on_a_free_port(service: ServiceProcess, attempts: int = 5) -> None:
    """A port probed free may be taken before uvicorn binds it (a busy shared machine): pick another."""
    for attempt in range(attempts):
        offset = service.log.stat().st_size if service.log.exists() else 0
        await service.start()
        try:
            await service.wait_ready()
            return
        except AssertionError:
            with service.log.open("rb") as log:
                log.seek(offset)
                if b"address already in use" not in log.read() or attempt == attempts - 1:
                    raise
            service.port = _free_port()


async def dispose_platform(platform: Platform) -> None:
    await platform.stop()
    await drop_databases(
        platform.stack.pg_admin_url, (url.rsplit("/", 1)[1] for url in platform.databases.values())
    )
    await delete_topics(platform.stack.kafka_bootstrap, platform.topic_prefix)
