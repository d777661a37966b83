"""Settings every service shares; a service subclasses `KitSettings` with its own env prefix."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from servicekit.kafka import KafkaSecurity


class KitSettings(BaseSettings):
    """Connection and runtime settings common to all services.

    A service declares ``model_config = SettingsConfigDict(env_prefix="LEDGER_")`` so that each
    deployment is configured by its own variables (``LEDGER_DATABASE_URL``…).
    """

    model_config = SettingsConfigDict(extra="ignore")

    service_name: str
    environment: Literal["dev", "test", "prod"] = "dev"
    database_url: str = Field(description="postgresql+asyncpg://user:pass@host:port/db")
    database_pool_size: int = Field(
        default=10,
        description="Connections of the session pool, fixed (no overflow), and at most as many on the read "
        "pool; a replica holds up to twice this plus the relay's and the job runner's own connections.",
    )
    kafka_bootstrap_servers: str = "127.0.0.1:9092"
    topic_prefix: str = Field(
        default="",
        description="Prepended to every topic name; tests use a unique one so runs never see each other.",
    )
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = Field(default=None, description="SCRAM-SHA-512 with Strimzi users.")
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None
    kafka_ssl_cafile: str | None = Field(default=None, description="CA of the Kafka cluster (TLS listeners).")
    jwt_public_key_pem: str | None = None
    jwt_jwks_url: str | None = None
    jwt_issuer: str = "dife-dev"
    jwt_audience: str = "dife"
    log_level: str = "INFO"
    consumer_group: str | None = Field(default=None, description="Defaults to the service name.")
    consumer_instance_id: str | None = Field(
        default=None, description="Kafka static membership id (e.g. the pod name): no rebalance on restart."
    )
    create_topics: bool = Field(default=True, description="Create missing topics at start (local and tests).")
    topic_partitions: int = 12
    relay_enabled: bool = True
    consumers_enabled: bool = True
    relay_poll_interval_s: float = 0.5
    relay_batch_size: int = 500
    consumer_max_attempts: int = Field(
        default=3, ge=1, description="Attempts before a failing event is dead-lettered."
    )
    consumer_backoff_s: float = 0.2
    consumer_events_per_transaction: int = Field(
        default=100,
        ge=1,
        description="Most events of one fetch applied in one transaction (1: one transaction per event).",
    )
    max_body_bytes: int = Field(
        default=1024 * 1024, gt=0, description="Largest request body, unless a route has its own limit."
    )
    jobs_enabled: bool = Field(default=True, description="Run background jobs and timers in this process.")
    job_poll_interval_s: float = Field(default=1.0, gt=0, description="Fallback poll when no NOTIFY arrives.")
    test_clock: bool = Field(
        default=False,
        description="Run on a movable clock set through PUT /_test/clock (servicekit.testclock); test only.",
    )

    @model_validator(mode="after")
    def _test_clock_only_in_test(self) -> KitSettings:
        if self.test_clock and self.environment != "test":
            raise ValueError("test_clock is allowed only when environment is test")
        return self

    def kafka_security(self) -> KafkaSecurity:
        password = self.kafka_sasl_password.get_secret_value() if self.kafka_sasl_password else None
        return KafkaSecurity(
            protocol=self.kafka_security_protocol,
            sasl_mechanism=self.kafka_sasl_mechanism,
            username=self.kafka_sasl_username,
            password=password,
            ca_file=self.kafka_ssl_cafile,
        )

    def topic(self, logical: str) -> str:
        """Physical Kafka topic of a logical topic name from `dife_contracts.topics`."""
        return f"{self.topic_prefix}{logical}"

    def group_id(self, suffix: str = "") -> str:
        base = self.consumer_group or self.service_name
        group = f"{base}.{suffix}" if suffix else base
        return f"{self.topic_prefix}{group}"

    @property
    def json_logs(self) -> bool:
        return self.environment == "prod"
