"""Where the services and Kafka are, and how the CLI authenticates: `DIFE_CLI_*` variables or flags."""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

from dife_cli import SERVICES

__all__ = ["SERVICES", "CliSettings"]


class CliSettings(BaseSettings):
    """Defaults are the ports of `make run` (deploy/local/run.py) and the local stack's Kafka."""

    model_config = SettingsConfigDict(env_prefix="DIFE_CLI_", extra="ignore")

    ledger_url: str = "http://127.0.0.1:8001"
    catalogue_url: str = "http://127.0.0.1:8002"
    dossier_url: str = "http://127.0.0.1:8003"
    funding_url: str = "http://127.0.0.1:8004"
    contributions_url: str = "http://127.0.0.1:8005"
    payout_url: str = "http://127.0.0.1:8006"

    token: str | None = None
    """A bearer token to send; without one, the CLI mints a local `agent`+`ops` token with the dev key."""
    keys_dir: Path | None = None
    """Where the dev key pair lives (default `<repo>/.local/keys`, as `servicekit.devtokens`)."""
    jwt_issuer: str = "dife-dev"
    jwt_audience: str = "dife"

    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = ""

    timeout_s: float = 30.0
    poll_interval_s: float = 0.5
    job_timeout_s: float = 3600.0

    def url_of(self, service: str) -> str:
        url: str = getattr(self, f"{service}_url")
        return url.rstrip("/")
