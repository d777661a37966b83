"""Checks docker-compose.yml and the Kubernetes manifests without Docker, kubectl or a cluster.

Why: neither Docker nor kustomize runs on the development machines, so a typo in these files would only
surface at deploy time. This parses every file and checks what a reader cannot see at a glance: every
kustomize resource exists, selectors match pod labels, probes and HPA bounds are the agreed ones, secrets
are referenced and never inlined, compose dependencies point at defined services.

    uv run python deploy/validate.py
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
K8S_BASE = REPO / "deploy" / "k8s" / "base"
PARTITIONS = 12


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomize_documents(folder: Path, errors: list[str]) -> list[tuple[Path, dict[str, Any], dict[str, str]]]:
    """Documents of a kustomization with the selector labels it adds (`labels` with includeSelectors)."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    selector_labels: dict[str, str] = {}
    for group in kustomization.get("labels", []):
        if group.get("includeSelectors"):
            selector_labels.update(group["pairs"])
    found: list[tuple[Path, dict[str, Any], dict[str, str]]] = []
    for resource in kustomization["resources"]:
        path = folder / resource
        if path.is_dir():
            found += [
                (doc_path, doc, {**selector_labels, **labels})
                for doc_path, doc, labels in kustomize_documents(path, errors)
            ]
        elif path.is_file():
            found += [(path, doc, selector_labels) for doc in load_all(path)]
        else:
            errors.append(f"{folder / 'kustomization.yaml'}: resource {resource} does not exist")
    return found


def check_deployment(
    where: str, doc: dict[str, Any], selector_labels: dict[str, str], errors: list[str]
) -> None:
    spec = doc["spec"]
    template_labels = {**spec["template"]["metadata"].get("labels", {}), **selector_labels}
    selector = {**spec["selector"]["matchLabels"], **selector_labels}
    if any(template_labels.get(key) != value for key, value in selector.items()):
        errors.append(f"{where}: selector {selector} does not match pod labels {template_labels}")
    if spec.get("replicas") != 2:
        errors.append(f"{where}: expected 2 replicas")
    for container in spec["template"]["spec"]["containers"]:
        resources = container.get("resources", {})
        if resources.get("limits", {}).get("memory") != "256Mi":
            errors.append(f"{where}: memory limit must be 256Mi")
        if resources.get("requests", {}).get("memory") != "200Mi":
            errors.append(f"{where}: memory request must be 200Mi")
        if "cpu" not in resources.get("requests", {}):
            errors.append(f"{where}: a CPU request is needed for the HPA's utilisation target")
        if container.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
            errors.append(f"{where}: readiness probe must be /readyz")
        if container.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
            errors.append(f"{where}: liveness probe must be /healthz")
        check_env(where, container, errors)


def check_env(where: str, container: dict[str, Any], errors: list[str]) -> None:
    """Secrets are referenced, never written in the manifests."""
    for variable in container.get("env", []):
        secret_like = any(word in variable["name"] for word in ("DATABASE_URL", "KEY", "JWKS"))
        if secret_like and "secretKeyRef" not in variable.get("valueFrom", {}):
            errors.append(f"{where}: {variable['name']} must come from a Secret")


def check_k8s(errors: list[str]) -> int:
    documents = kustomize_documents(K8S_BASE, errors)
    by_kind: dict[str, set[str]] = {}
    for path, doc, _ in documents:
        for key in ("apiVersion", "kind", "metadata"):
            if key not in doc:
                errors.append(f"{path}: missing {key}")
        by_kind.setdefault(doc.get("kind", "?"), set()).add(doc["metadata"]["name"])
    for path, doc, selector_labels in documents:
        where = f"{path.relative_to(REPO)} ({doc['kind']} {doc['metadata']['name']})"
        if doc["kind"] == "Deployment":
            check_deployment(where, doc, selector_labels, errors)
            for source in doc["spec"]["template"]["spec"]["containers"][0].get("envFrom", []):
                if source["configMapRef"]["name"] not in by_kind.get("ConfigMap", set()):
                    errors.append(f"{where}: ConfigMap {source['configMapRef']['name']} is not defined")
        elif doc["kind"] == "HorizontalPodAutoscaler":
            spec = doc["spec"]
            if spec["scaleTargetRef"]["name"] not in by_kind.get("Deployment", set()):
                errors.append(f"{where}: scales an undefined Deployment")
            if spec["maxReplicas"] != PARTITIONS:
                errors.append(f"{where}: maxReplicas must equal the partition count ({PARTITIONS})")
            target = spec["metrics"][0]["resource"]["target"]
            if target.get("averageUtilization") != 70:
                errors.append(f"{where}: CPU target must be 70 %")
        elif doc["kind"] == "Job":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if container.get("args", [])[:1] != ["alembic"]:
                    errors.append(f"{where}: a migration Job runs alembic")
                check_env(where, container, errors)
    for service in ("rights-ledger", "catalogue"):
        for kind in ("ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler"):
            if service not in by_kind.get(kind, set()):
                errors.append(f"k8s: {service} has no {kind}")
        if f"{service}-migrate" not in by_kind.get("Job", set()):
            errors.append(f"k8s: {service} has no migration Job")
    return len(documents)


def check_compose(errors: list[str]) -> int:
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    services = compose["services"]
    for name, service in services.items():
        if "image" not in service and "build" not in service:
            errors.append(f"docker-compose.yml: {name} has neither image nor build")
        for dependency, condition in service.get("depends_on", {}).items():
            if dependency not in services:
                errors.append(f"docker-compose.yml: {name} depends on undefined {dependency}")
            wanted = condition["condition"]
            if wanted == "service_healthy" and "healthcheck" not in services[dependency]:
                errors.append(
                    f"docker-compose.yml: {name} waits for {dependency} to be healthy; it has no check"
                )
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            if source.startswith("./") and not (REPO / source).exists():
                errors.append(f"docker-compose.yml: {name} mounts missing {source}")
            elif not source.startswith(("./", "/")) and source not in (compose.get("volumes") or {}):
                errors.append(f"docker-compose.yml: {name} uses undeclared volume {source}")
    return len(services)


def main() -> int:
    errors: list[str] = []
    manifests = check_k8s(errors)
    services = check_compose(errors)
    for error in errors:
        print(f"ERROR {error}", file=sys.stderr)
    if errors:
        return 1
    print(f"ok: {manifests} Kubernetes documents, {services} compose services")
    return 0


if __name__ == "__main__":
    sys.exit(main())
