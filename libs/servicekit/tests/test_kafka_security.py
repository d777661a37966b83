"""How a service logs in to Kafka: PLAINTEXT locally, SCRAM over TLS where ACLs apply (deploy/k8s)."""

from __future__ import annotations

import ssl

import pytest
from servicekit.kafka import KafkaSecurity
from servicekit.settings import KitSettings


class SampleSettings(KitSettings):
    service_name: str = "sample"


def test_plaintext_adds_nothing_but_the_protocol() -> None:
    assert KafkaSecurity().client_options() == {"security_protocol": "PLAINTEXT"}


def test_scram_over_tls_gives_every_client_its_user_and_a_tls_context() -> None:
    options = KafkaSecurity("SASL_SSL", "SCRAM-SHA-512", "dossier-kafka", "s3cret").client_options()
    assert options["security_protocol"] == "SASL_SSL"
    assert (options["sasl_mechanism"], options["sasl_plain_username"], options["sasl_plain_password"]) == (
        "SCRAM-SHA-512",
        "dossier-kafka",
        "s3cret",
    )
    assert isinstance(options["ssl_context"], ssl.SSLContext)


def test_the_settings_read_the_login_from_the_services_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", "SASL_PLAINTEXT")
    monkeypatch.setenv("KAFKA_SASL_USERNAME", "payout-kafka")
    monkeypatch.setenv("KAFKA_SASL_PASSWORD", "pw")
    settings = SampleSettings(database_url="postgresql+asyncpg://x@y/z")
    security = settings.kafka_security()
    assert (security.protocol, security.username, security.password) == (
        "SASL_PLAINTEXT",
        "payout-kafka",
        "pw",
    )
    assert "pw" not in repr(settings), "the password never shows in a settings dump or a log"
