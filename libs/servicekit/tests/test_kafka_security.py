"""How a service logs in to Kafka: PLAINTEXT locally, SCRAM over TLS where ACLs apply (deploy/k8s)."""

from __future__ import annotations

import ssl

import pytest
from servicekit.kafka import KafkaSecurity, make_relay_producer
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


def test_the_relays_librdkafka_producer_gets_the_same_login() -> None:
    options = KafkaSecurity(
        "SASL_SSL", "SCRAM-SHA-512", "dossier-kafka", "s3cret", "/ca.pem"
    ).librdkafka_options()
    assert options == {
        "security.protocol": "sasl_ssl",
        "ssl.ca.location": "/ca.pem",
        "sasl.mechanism": "SCRAM-SHA-512",
        "sasl.username": "dossier-kafka",
        "sasl.password": "s3cret",
    }


def test_the_relays_librdkafka_producer_trusts_the_system_cas_without_a_ca_file() -> None:
    options = KafkaSecurity("SSL").librdkafka_options()
    assert options == {"security.protocol": "ssl", "ssl.ca.location": "probe"}


def test_plaintext_gives_librdkafka_nothing_but_the_protocol() -> None:
    assert KafkaSecurity().librdkafka_options() == {"security.protocol": "plaintext"}


def test_librdkafka_accepts_the_mapped_login() -> None:
    """librdkafka refuses unknown or ill-typed properties when the producer is built: build one."""
    security = KafkaSecurity("SASL_PLAINTEXT", "SCRAM-SHA-512", "dossier-kafka", "s3cret")
    make_relay_producer("127.0.0.1:1", client_id="mapping-test", security=security)
