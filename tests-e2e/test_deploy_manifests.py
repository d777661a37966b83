"""The deployment files pass `deploy/validate.py`, and the validator catches what it is there to catch.

Each break is made on a copy of the deployment files (never on the repository's), then validated: a service,
a topic, a dead-letter topic, an ACL, a PDB or a lag metric missing, a service writing a topic it does not
own, the integrator reading more than the dossier topic, a secret inlined, a misspelt field.
Needs `kubernetes-validate` (the Kubernetes JSON schemas, no network).
"""

from __future__ import annotations

import importlib.util
import shutil
import sys
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
K8S = Path("deploy") / "k8s" / "base"


def _load_validator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("dife_deploy_validate", REPO / "deploy" / "validate.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the file runs
    spec.loader.exec_module(module)
    return module


validator = _load_validator()


def errors_of(repo: Path) -> list[str]:
    errors, _, _ = validator.validate(repo)
    return list(errors)


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    """The deployment files alone, where a test may break them."""
    shutil.copytree(REPO / "deploy" / "k8s", tmp_path / "deploy" / "k8s")
    shutil.copytree(REPO / "deploy" / "docker", tmp_path / "deploy" / "docker")
    shutil.copy(REPO / "docker-compose.yml", tmp_path / "docker-compose.yml")
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def edit_text(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1))


def edit_documents(path: Path, change: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> None:
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc]
    path.write_text(yaml.safe_dump_all(change(documents), sort_keys=False))


def user(documents: list[dict[str, Any]], name: str) -> dict[str, Any]:
    return next(doc for doc in documents if doc["metadata"]["name"] == name)


def test_the_repository_s_deployment_files_pass_every_check() -> None:
    errors, manifests, compose_services = validator.validate(REPO)
    assert errors == []
    # 6 services x (ConfigMap, Deployment, Service, HPA, PDB, Job, relay Deployment, relay PDB)
    # + namespace + 12 topics + 7 users
    assert manifests == 6 * 8 + 1 + 12 + 7
    assert compose_services == 6 + 3  # the services, kafka, kafka-init, postgres


def test_the_acl_table_is_the_one_the_platform_runs_on() -> None:
    """Written out here independently of validate.py: who reads what (issue 13, Deployment)."""
    reads = {
        "rights-ledger": {"funding", "payout"},
        "catalogue": {"dossier"},
        "dossier": {"catalogue", "ledger", "funding", "payout"},
        "funding": {"dossier", "ledger", "payout"},
        "contributions": set(),
        "payout": {"dossier", "funding", "ledger", "contributions"},
    }
    owns = {"rights-ledger": "ledger"}
    assert {s.name for s in validator.SERVICES} == set(reads)
    for service in validator.SERVICES:
        own = f"dife.{owns.get(service.name, service.name)}.events"
        acls = validator.expected_acls(service)
        assert {name for kind, name, _, op in acls if kind == "topic" and op == "Read"} == {
            f"dife.{context}.events" for context in reads[service.name]
        }
        assert {name for kind, name, _, op in acls if kind == "topic" and op == "Write"} == {
            own,
            *(f"dife.{context}.events.dlt" for context in reads[service.name]),
        }
    assert {(kind, name, op) for kind, name, _, op in validator.integrator_acls()} == {
        ("topic", "dife.dossier.events", "Read"),
        ("topic", "dife.dossier.events", "Describe"),
        ("group", "integrator.", "Read"),
        ("group", "integrator.", "Describe"),
    }


def test_a_service_left_out_of_the_kustomization_fails(copy: Path) -> None:
    edit_text(copy / K8S / "kustomization.yaml", "  - payout\n", "")
    errors = errors_of(copy)
    for kind in ("ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        assert f"k8s: payout has no {kind}" in errors
    assert "k8s: payout has no migration Job" in errors


def test_a_service_without_a_pdb_fails(copy: Path) -> None:
    edit_text(copy / K8S / "catalogue" / "kustomization.yaml", "  - pdb.yaml\n", "")
    assert errors_of(copy) == ["k8s: catalogue has no PodDisruptionBudget"]


def test_a_service_whose_api_pods_also_relay_fails(copy: Path) -> None:
    edit_text(
        copy / K8S / "rights-ledger" / "deployment.yaml",
        "            - name: LEDGER_RELAY_ENABLED  # the relay runs in rights-ledger-relay\n"
        '              value: "false"\n',
        "",
    )
    assert errors_of(copy) == [
        "k8s: Deployment rights-ledger must set LEDGER_RELAY_ENABLED=false (its relay is rights-ledger-relay)"
    ]


def test_a_relay_that_also_consumes_or_runs_jobs_fails(copy: Path) -> None:
    relay = copy / K8S / "funding" / "relay-deployment.yaml"
    edit_text(
        relay,
        "FUNDING_CONSUMERS_ENABLED  # only the relay: the API pods consume and run jobs\n"
        '              value: "false"',
        'FUNDING_CONSUMERS_ENABLED\n              value: "true"',
    )
    edit_text(relay, '            - name: FUNDING_JOBS_ENABLED\n              value: "false"\n', "")
    assert errors_of(copy) == [
        "k8s: Deployment funding-relay must set FUNDING_CONSUMERS_ENABLED=false (it only relays)",
        "k8s: Deployment funding-relay must set FUNDING_JOBS_ENABLED=false (it only relays)",
    ]


def test_a_service_without_its_relay_or_with_a_scaled_relay_fails(copy: Path) -> None:
    edit_text(copy / K8S / "payout" / "kustomization.yaml", "  - relay-deployment.yaml\n", "")
    edit_text(copy / K8S / "dossier" / "hpa.yaml", "    name: dossier\n", "    name: dossier-relay\n")
    errors = errors_of(copy)
    assert "k8s: payout has no Deployment payout-relay" in errors
    assert (
        "deploy/k8s/base/dossier/hpa.yaml (HorizontalPodAutoscaler dossier): scales a relay "
        "(one active pod holds its lock: more would stand by)"
    ) in errors


def test_an_hpa_without_the_consumer_lag_metric_fails(copy: Path) -> None:
    def cpu_only(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        documents[0]["spec"]["metrics"] = documents[0]["spec"]["metrics"][:1]
        return documents

    edit_documents(copy / K8S / "dossier" / "hpa.yaml", cpu_only)
    assert errors_of(copy) == [
        "k8s: HPA dossier has no External dife_consumer_lag metric selected on service=dossier"
    ]


def test_a_missing_topic_or_dead_letter_topic_fails(copy: Path) -> None:
    def without(*names: str) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
        return lambda documents: [d for d in documents if d["spec"]["topicName"] not in names]

    edit_documents(
        copy / K8S / "kafka" / "topics.yaml", without("dife.funding.events.dlt", "dife.ledger.events")
    )
    assert errors_of(copy) == [
        "strimzi: no KafkaTopic for dife.ledger.events",
        "strimzi: no KafkaTopic for dife.funding.events.dlt",
    ]


def test_a_missing_read_acl_fails(copy: Path) -> None:
    def drop_catalogue_read(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        acls = user(documents, "dossier-kafka")["spec"]["authorization"]["acls"]
        acls[:] = [
            a
            for a in acls
            if not (a["resource"]["name"] == "dife.catalogue.events" and "Read" in a["operations"])
        ]
        return documents

    edit_documents(copy / K8S / "kafka" / "users.yaml", drop_catalogue_read)
    errors = errors_of(copy)
    assert "strimzi: KafkaUser dossier-kafka lacks Read on topic dife.catalogue.events (literal)" in errors


def test_a_service_writing_a_topic_it_does_not_own_fails(copy: Path) -> None:
    def funding_writes_the_ledger(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        user(documents, "funding-kafka")["spec"]["authorization"]["acls"].append(
            {"resource": {"type": "topic", "name": "dife.ledger.events"}, "operations": ["Write"]}
        )
        return documents

    edit_documents(copy / K8S / "kafka" / "users.yaml", funding_writes_the_ledger)
    errors = errors_of(copy)
    assert (
        "strimzi: KafkaUser funding-kafka writes dife.ledger.events: a service writes only its own topic"
        in (errors)
    )


def test_a_missing_service_user_fails(copy: Path) -> None:
    edit_documents(
        copy / K8S / "kafka" / "users.yaml",
        lambda documents: [d for d in documents if d["metadata"]["name"] != "contributions-kafka"],
    )
    assert errors_of(copy) == ["strimzi: no KafkaUser contributions-kafka for contributions"]


def test_an_integrator_reading_more_than_the_dossier_topic_fails(copy: Path) -> None:
    def integrator_reads_payout(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        user(documents, "integrator")["spec"]["authorization"]["acls"].append(
            {"resource": {"type": "topic", "name": "dife.payout.events"}, "operations": ["Read"]}
        )
        return documents

    edit_documents(copy / K8S / "kafka" / "users.yaml", integrator_reads_payout)
    assert errors_of(copy) == [
        "strimzi: KafkaUser integrator has Read on topic dife.payout.events (literal): not in the table"
    ]


def test_an_inlined_secret_fails(copy: Path) -> None:
    edit_text(
        copy / K8S / "payout" / "deployment.yaml",
        "            - name: PAYOUT_IBAN_KEY\n              valueFrom:\n                secretKeyRef:\n"
        "                  name: payout\n                  key: iban-key\n",
        "            - name: PAYOUT_IBAN_KEY\n              value: c2VjcmV0\n",
    )
    errors = errors_of(copy)
    assert (
        "deploy/k8s/base/payout/deployment.yaml (Deployment payout): PAYOUT_IBAN_KEY must come from a Secret"
        in (errors)
    )
    assert "k8s: Deployment payout does not take ['PAYOUT_IBAN_KEY'] from a Secret" in errors


def test_a_misspelt_field_fails_the_kubernetes_schema(copy: Path) -> None:
    edit_text(
        copy / K8S / "funding" / "pdb.yaml", "maxUnavailable: 1", "maxUnavailable: 1\n  maxUnavailible: 1"
    )
    assert errors_of(copy) == [
        "deploy/k8s/base/funding/pdb.yaml (PodDisruptionBudget funding): schema: Additional properties are "
        "not allowed ('maxUnavailible' was unexpected) at spec"
    ]


def test_compose_without_a_service_or_its_database_fails(copy: Path) -> None:
    def without_dossier(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        del documents[0]["services"]["dossier"]
        return documents

    edit_documents(copy / "docker-compose.yml", without_dossier)
    edit_text(
        copy / "deploy" / "docker" / "postgres-init" / "10-databases.sql", "CREATE DATABASE dife_funding;", ""
    )
    assert errors_of(copy) == [
        "docker-compose.yml: dossier is not defined",
        "deploy/docker/postgres-init: no CREATE DATABASE dife_funding",
    ]


def test_compose_starting_a_service_before_its_migrations_fails(copy: Path) -> None:
    def uvicorn_only(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
        documents[0]["services"]["funding"]["command"] = [
            "uvicorn --factory funding.app:create_app_from_env --host 0.0.0.0 --port 8000"
        ]
        return documents

    edit_documents(copy / "docker-compose.yml", uvicorn_only)
    assert errors_of(copy) == ["docker-compose.yml: funding must run its migrations, then uvicorn"]


def test_a_consumer_of_a_topic_its_user_may_not_read_fails(copy: Path) -> None:
    consumers = copy / "services" / "contributions" / "src" / "contributions" / "consumers"
    consumers.mkdir(parents=True)
    (consumers / "payments.py").write_text("SPEC_TOPICS = [topics.PAYOUT]\n")
    assert errors_of(copy) == [
        "services/contributions/src/contributions/consumers/payments.py: contributions consumes "
        "dife.payout.events, which its KafkaUser may not read (deploy/validate.py SERVICES)"
    ]
