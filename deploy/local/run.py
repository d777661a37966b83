"""``make run``: migrate each service's database, then run every service that exists, until Ctrl-C.

The stack (Kafka, PostgreSQL) must be up (`stack.py up`, which `make run` does first). Services run under
honcho with their logs interleaved on the console; Ctrl-C stops them, then the stack.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOCAL = ROOT / ".local"
STACK = [sys.executable, str(Path(__file__).with_name("stack.py"))]


@dataclass(frozen=True)
class Service:
    name: str
    env_prefix: str
    package: str
    port: int

    @property
    def folder(self) -> Path:
        return ROOT / "services" / self.name

    @property
    def exists(self) -> bool:
        return (self.folder / "alembic.ini").is_file() and (
            self.folder / "src" / self.package / "app.py"
        ).is_file()


SERVICES = (
    Service("rights-ledger", "LEDGER", "rights_ledger", 8001),
    Service("catalogue", "CATALOGUE", "catalogue", 8002),
    Service("dossier", "DOSSIER", "dossier", 8003),
    Service("funding", "FUNDING", "funding", 8004),
    Service("contributions", "CONTRIBUTIONS", "contributions", 8005),
    Service("payout", "PAYOUT", "payout", 8006),
)


def stack_env() -> dict[str, str]:
    printed = subprocess.run([*STACK, "env"], check=True, capture_output=True, text=True).stdout
    return dict(line.removeprefix("export ").split("=", 1) for line in printed.splitlines() if "=" in line)


def dev_secret(name: str) -> str:
    """A random secret kept under .local/keys, so local data stays matchable across restarts."""
    path = LOCAL / "keys" / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def service_env() -> dict[str, str]:
    env = {**os.environ, **stack_env()}
    for service in SERVICES:
        env.setdefault(f"{service.env_prefix}_ENVIRONMENT", "dev")
    env.setdefault("LEDGER_NIR_HMAC_KEY", dev_secret("nir-hmac.key"))
    return env


def migrate(services: list[Service], env: dict[str, str]) -> None:
    for service in services:
        print(f"[run] migrating {service.name}", flush=True)
        subprocess.run(
            [sys.executable, "-m", "alembic", "-c", str(service.folder / "alembic.ini"), "upgrade", "head"],
            check=True,
            env=env,
            cwd=ROOT,
        )


def run(services: list[Service], env: dict[str, str]) -> int:
    procfile = LOCAL / "Procfile"
    procfile.write_text(
        "".join(
            f"{s.name}: {sys.executable} -m uvicorn --factory {s.package}.app:create_app_from_env "
            f"--host 127.0.0.1 --port {s.port} --no-access-log\n"
            for s in services
        )
    )
    print("\nDIFE platform — services:")
    for s in services:
        print(f"  {s.name:<14} http://127.0.0.1:{s.port}/docs   (health /healthz, /readyz, /metrics)")
    print(f"  kafka          {env['KAFKA_BOOTSTRAP_SERVERS']}")
    print(f"  postgresql     {env['DIFE_PG_ADMIN_URL']}")
    print("  a dev token:   uv run python -m servicekit.devtokens --role agent")
    print("  logs:          this console; Kafka and PostgreSQL in .local/logs/\nCtrl-C stops everything.\n")
    honcho = subprocess.Popen(
        [sys.executable, "-m", "honcho", "start", "-f", str(procfile), "-d", str(ROOT)], env=env
    )
    try:
        return honcho.wait()
    except KeyboardInterrupt:
        return honcho.wait()
    finally:
        print("[run] stopping the stack", flush=True)
        subprocess.run([*STACK, "down"], check=False)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=["migrate", "run"])
    args = parser.parse_args(argv)
    services = [s for s in SERVICES if s.exists]
    env = service_env()
    migrate(services, env)
    if args.command == "run":
        return run(services, env)
    return 0


if __name__ == "__main__":
    sys.exit(main())
