"""Checks docker-compose.yml and the Kubernetes manifests without Docker, kubectl or a cluster.

Why: neither Docker nor kustomize runs on the development machines, so a typo in these files would only
surface at deploy time. This parses every file and checks what a reader cannot see at a glance:

- every Kubernetes document against the official JSON schema of its kind (the `kubernetes-validate` package
  ships them: no network), in strict mode so a misspelt field fails;
- every kustomize resource exists, selectors match pod labels, probes, memory and HPA bounds are the agreed
  ones, secrets are referenced and never inlined;
- per service: ConfigMap, Deployment, Service, PodDisruptionBudget, migration Job, and an HPA on CPU and on
  consumer lag (External metric served by the Prometheus adapter);
- per service, its outbox relay in a Deployment of its own (`<service>-relay`, with its PodDisruptionBudget,
  never scaled by an HPA), which runs no consumer and no job, while the API Deployment runs no relay;
- a Strimzi KafkaTopic for every topic and dead-letter topic, and KafkaUser ACLs that are exactly the
  table below: each service writes only its own topic, reads what it consumes and writes those topics' DLTs;
  and no service's consumers/ code mentions a topic its user may not read;
- compose runs the six services (migrations, then uvicorn, health checks) and PostgreSQL creates their
  databases.

    uv run --with kubernetes-validate python deploy/validate.py
"""

from __future__ import annotations

import functools
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from dife_contracts import topics

REPO = Path(__file__).resolve().parents[1]
PARTITIONS = 12
TOPIC_REPLICAS = 3
KUBERNETES_VERSION = "1.32"
LAG_METRIC = "dife_consumer_lag"
STRIMZI_KINDS = frozenset({"KafkaTopic", "KafkaUser"})


@dataclass(frozen=True)
class Service:
    name: str
    env_prefix: str
    package: str
    port: int
    consumes: tuple[str, ...]
    secrets: tuple[str, ...]
    """Settings (without prefix) that must come from the service's Secret."""

    @property
    def topic(self) -> str:
        """The one topic the service writes: the one whose owner source is this service."""
        return next(topic for topic, source in topics.SOURCES.items() if source == f"/dife/{self.name}")

    @property
    def database(self) -> str:
        return f"dife_{self.package}"

    @property
    def group_prefix(self) -> str:
        """servicekit names each consumer group `<service>.<consumer>` (KitSettings.group_id)."""
        return f"{self.name}."


_BASE_SECRETS = ("DATABASE_URL", "JWT_JWKS_URL", "KAFKA_SASL_PASSWORD")
SERVICES = (
    Service(
        "rights-ledger",
        "LEDGER",
        "rights_ledger",
        8001,
        (topics.FUNDING, topics.PAYOUT),
        (*_BASE_SECRETS, "NIR_HMAC_KEY"),
    ),
    Service("catalogue", "CATALOGUE", "catalogue", 8002, (topics.DOSSIER,), _BASE_SECRETS),
    Service(
        "dossier",
        "DOSSIER",
        "dossier",
        8003,
        (topics.CATALOGUE, topics.LEDGER, topics.FUNDING, topics.PAYOUT),
        _BASE_SECRETS,
    ),
    Service(
        "funding",
        "FUNDING",
        "funding",
        8004,
        (topics.DOSSIER, topics.LEDGER, topics.PAYOUT),
        (*_BASE_SECRETS, "PSP_SECRETS"),
    ),
    Service("contributions", "CONTRIBUTIONS", "contributions", 8005, (), _BASE_SECRETS),
    Service(
        "payout",
        "PAYOUT",
        "payout",
        8006,
        (topics.DOSSIER, topics.FUNDING, topics.LEDGER, topics.CONTRIBUTIONS),
        (*_BASE_SECRETS, "IBAN_KEY"),
    ),
)
INTEGRATOR_USER = "integrator"
INTEGRATOR_GROUP_PREFIX = "integrator."
SECRET_WORDS = ("DATABASE_URL", "KEY", "JWKS", "SECRET", "PASSWORD")

Acl = tuple[str, str, str, str]
"""(resource type, resource name, pattern type, operation)."""


def kafka_user_name(service: Service) -> str:
    """Strimzi writes the user's password in a Secret of the user's name: not the service's own Secret."""
    return f"{service.name}-kafka"


def expected_acls(service: Service) -> set[Acl]:
    acls: set[Acl] = {("topic", service.topic, "literal", op) for op in ("Write", "Describe")}
    for consumed in service.consumes:
        acls |= {("topic", consumed, "literal", op) for op in ("Read", "Describe")}
        acls |= {("topic", topics.dead_letter(consumed), "literal", op) for op in ("Write", "Describe")}
    if service.consumes:
        acls |= {("group", service.group_prefix, "prefix", op) for op in ("Read", "Describe")}
    return acls


def integrator_acls() -> set[Acl]:
    return {("topic", topics.DOSSIER, "literal", op) for op in ("Read", "Describe")} | {
        ("group", INTEGRATOR_GROUP_PREFIX, "prefix", op) for op in ("Read", "Describe")
    }


Document = tuple[Path, dict[str, Any], dict[str, str]]


def load_all(path: Path) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def kustomize_documents(folder: Path, errors: list[str]) -> list[Document]:
    """Documents of a kustomization with the selector labels it adds (`labels` with includeSelectors)."""
    kustomization = yaml.safe_load((folder / "kustomization.yaml").read_text())
    selector_labels: dict[str, str] = {}
    for group in kustomization.get("labels", []):
        if group.get("includeSelectors"):
            selector_labels.update(group["pairs"])
    found: list[Document] = []
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


def check_schemas(documents: list[Document], repo: Path, errors: list[str]) -> None:
    """Every built-in kind against the official schema (strict: unknown fields fail)."""
    if importlib.util.find_spec("kubernetes_validate") is None:
        errors.append(
            "kubernetes-validate is not installed: run with `uv run --with kubernetes-validate` "
            "(or add it to the dev dependencies)"
        )
        return
    for path, doc, _ in documents:
        if doc.get("kind") in STRIMZI_KINDS:
            continue
        problem = schema_problem(json.dumps(doc, sort_keys=True))
        if problem:
            where = f"{path.relative_to(repo)} ({doc.get('kind')} {doc.get('metadata', {}).get('name')})"
            errors.append(f"{where}: {problem}")


@functools.cache
def schema_problem(document: str) -> str | None:
    """What the schema refuses in a document (JSON text, so it can be cached: loading schemas is slow)."""
    import kubernetes_validate

    doc = json.loads(document)
    try:
        kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)
    except kubernetes_validate.ValidationError as error:
        return f"schema: {error.message} at {'/'.join(map(str, error.path))}"
    except kubernetes_validate.SchemaNotFoundError:
        return f"no schema for {doc.get('apiVersion')} {doc.get('kind')}"
    return None


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
        secret_like = any(word in variable["name"] for word in SECRET_WORDS)
        if secret_like and "secretKeyRef" not in variable.get("valueFrom", {}):
            errors.append(f"{where}: {variable['name']} must come from a Secret")


def secret_settings(doc: dict[str, Any]) -> set[str]:
    """Names of the variables of a pod's first container that come from a Secret."""
    container = doc["spec"]["template"]["spec"]["containers"][0]
    return {
        variable["name"]
        for variable in container.get("env", [])
        if "secretKeyRef" in variable.get("valueFrom", {})
    }


def by_kind_and_name(documents: list[Document]) -> dict[tuple[str, str], Document]:
    return {
        (doc.get("kind", "?"), doc["metadata"]["name"]): (path, doc, labels)
        for path, doc, labels in documents
    }


def check_service(service: Service, index: dict[tuple[str, str], Document], errors: list[str]) -> None:
    name = service.name
    for kind in ("ConfigMap", "Deployment", "Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
        if (kind, name) not in index:
            errors.append(f"k8s: {name} has no {kind}")
    if ("Job", f"{name}-migrate") not in index:
        errors.append(f"k8s: {name} has no migration Job")
    if ("Deployment", name) in index:
        check_service_pods(service, name, index["Deployment", name][1], errors)
    if ("Job", f"{name}-migrate") in index:
        _, job, _ = index["Job", f"{name}-migrate"]
        if f"{service.env_prefix}_DATABASE_URL" not in secret_settings(job):
            errors.append(f"k8s: Job {name}-migrate does not take its database URL from a Secret")
        if f"services/{name}/alembic.ini" not in job["spec"]["template"]["spec"]["containers"][0]["args"]:
            errors.append(f"k8s: Job {name}-migrate does not migrate services/{name}")
    if ("ConfigMap", name) in index:
        _, config, _ = index["ConfigMap", name]
        for key in config.get("data", {}):
            if not key.startswith(f"{service.env_prefix}_"):
                errors.append(f"k8s: ConfigMap {name} sets {key}, not a {service.env_prefix}_ setting")
            if any(word in key for word in SECRET_WORDS):
                errors.append(f"k8s: ConfigMap {name} holds {key}, which belongs in a Secret")
    if ("HorizontalPodAutoscaler", name) in index:
        check_hpa_metrics(service, index["HorizontalPodAutoscaler", name][1], errors)
    if ("PodDisruptionBudget", name) in index and ("Deployment", name) in index:
        check_pdb(name, index["PodDisruptionBudget", name], index["Deployment", name], errors)
    check_relay(service, index, errors)


def check_service_pods(service: Service, name: str, deployment: dict[str, Any], errors: list[str]) -> None:
    """A Deployment of the service's image: its app, and every secret its settings need at start."""
    missing = {f"{service.env_prefix}_{s}" for s in service.secrets} - secret_settings(deployment)
    if missing:
        errors.append(f"k8s: Deployment {name} does not take {sorted(missing)} from a Secret")
    args = deployment["spec"]["template"]["spec"]["containers"][0].get("args", [])
    if f"{service.package}.app:create_app_from_env" not in args:
        errors.append(f"k8s: Deployment {name} does not run {service.package}.app:create_app_from_env")


def plain_settings(doc: dict[str, Any]) -> dict[str, str]:
    """The variables of a pod's first container that are written in the manifest."""
    container = doc["spec"]["template"]["spec"]["containers"][0]
    return {
        variable["name"]: variable["value"] for variable in container.get("env", []) if "value" in variable
    }


def check_relay(service: Service, index: dict[tuple[str, str], Document], errors: list[str]) -> None:
    """The outbox relay runs in pods of its own (`<service>-relay`, one active, one standing by): the API
    pods run none, and the relay pods run no consumer and no job, so a bulk drain never delays the
    consumers' answers (bench/ledger_holds.py, lanes)."""
    name, relay, prefix = service.name, f"{service.name}-relay", service.env_prefix
    for kind in ("Deployment", "PodDisruptionBudget"):
        if (kind, relay) not in index:
            errors.append(f"k8s: {name} has no {kind} {relay}")
    api = index.get(("Deployment", name))
    if api is not None and plain_settings(api[1]).get(f"{prefix}_RELAY_ENABLED") != "false":
        errors.append(f"k8s: Deployment {name} must set {prefix}_RELAY_ENABLED=false (its relay is {relay})")
    if ("Deployment", relay) not in index:
        return
    deployment = index["Deployment", relay][1]
    check_service_pods(service, relay, deployment, errors)
    settings = plain_settings(deployment)
    for setting in (f"{prefix}_CONSUMERS_ENABLED", f"{prefix}_JOBS_ENABLED"):
        if settings.get(setting) != "false":
            errors.append(f"k8s: Deployment {relay} must set {setting}=false (it only relays)")
    if settings.get(f"{prefix}_RELAY_ENABLED", "true") != "true":
        errors.append(f"k8s: Deployment {relay} disables its relay")
    if ("PodDisruptionBudget", relay) in index:
        check_pdb(relay, index["PodDisruptionBudget", relay], index["Deployment", relay], errors)


def check_hpa_metrics(service: Service, hpa: dict[str, Any], errors: list[str]) -> None:
    """CPU for every service; consumer lag (External metric) for every service that consumes."""
    metrics = hpa["spec"].get("metrics", [])
    cpu = [m for m in metrics if m.get("type") == "Resource" and m["resource"]["name"] == "cpu"]
    if not cpu or cpu[0]["resource"]["target"].get("averageUtilization") != 70:
        errors.append(f"k8s: HPA {service.name} must target 70 % CPU")
    lag = [
        m
        for m in metrics
        if m.get("type") == "External"
        and m["external"]["metric"]["name"] == LAG_METRIC
        and m["external"]["metric"].get("selector", {}).get("matchLabels") == {"service": service.name}
    ]
    if service.consumes and not lag:
        errors.append(
            f"k8s: HPA {service.name} has no External {LAG_METRIC} metric selected on service={service.name}"
        )
    if lag and lag[0]["external"]["target"].get("type") != "AverageValue":
        errors.append(f"k8s: HPA {service.name} must target an average lag per replica")


def check_pdb(name: str, pdb: Document, deployment: Document, errors: list[str]) -> None:
    _, budget, budget_labels = pdb
    _, doc, deployment_labels = deployment
    selector = {**budget["spec"]["selector"]["matchLabels"], **budget_labels}
    pod_labels = {**doc["spec"]["template"]["metadata"].get("labels", {}), **deployment_labels}
    if any(pod_labels.get(key) != value for key, value in selector.items()):
        errors.append(f"k8s: PodDisruptionBudget {name} selects {selector}, not the pods {pod_labels}")
    if budget["spec"].get("maxUnavailable") != 1 and budget["spec"].get("minAvailable") != 1:
        errors.append(f"k8s: PodDisruptionBudget {name} must keep one pod of two (maxUnavailable 1)")


def check_topics(index: dict[tuple[str, str], Document], errors: list[str]) -> None:
    declared: dict[str, dict[str, Any]] = {}
    for (kind, _), (_, doc, _) in index.items():
        if kind == "KafkaTopic":
            declared[doc["spec"].get("topicName", doc["metadata"]["name"])] = doc
    for topic in [*topics.ALL_TOPICS, *map(topics.dead_letter, topics.ALL_TOPICS)]:
        found = declared.get(topic)
        if found is None:
            errors.append(f"strimzi: no KafkaTopic for {topic}")
            continue
        if found["spec"].get("partitions") != PARTITIONS:
            errors.append(f"strimzi: KafkaTopic {topic} must have {PARTITIONS} partitions")
        if found["spec"].get("replicas") != TOPIC_REPLICAS:
            errors.append(f"strimzi: KafkaTopic {topic} must have {TOPIC_REPLICAS} replicas")
    for (kind, name), (_, doc, _) in index.items():
        if kind in STRIMZI_KINDS and doc["metadata"].get("labels", {}).get("strimzi.io/cluster") != "dife":
            errors.append(f"strimzi: {kind} {name} lacks the label strimzi.io/cluster: dife")


def user_acls(doc: dict[str, Any]) -> set[Acl]:
    return {
        (
            rule["resource"]["type"],
            rule["resource"]["name"],
            rule["resource"].get("patternType", "literal"),
            operation,
        )
        for rule in doc["spec"].get("authorization", {}).get("acls", [])
        for operation in rule.get("operations", [rule.get("operation")])
    }


def check_users(index: dict[tuple[str, str], Document], errors: list[str]) -> None:
    wanted = {kafka_user_name(s): (s, expected_acls(s)) for s in SERVICES}
    for user, (service, acls) in wanted.items():
        if ("KafkaUser", user) not in index:
            errors.append(f"strimzi: no KafkaUser {user} for {service.name}")
            continue
        doc = index["KafkaUser", user][1]
        check_acls(user, user_acls(doc), acls, errors)
        written = {name for kind, name, _, op in user_acls(doc) if kind == "topic" and op == "Write"}
        for topic in written - {service.topic, *map(topics.dead_letter, service.consumes)}:
            errors.append(f"strimzi: KafkaUser {user} writes {topic}: a service writes only its own topic")
        if doc["spec"].get("authentication", {}).get("type") != "scram-sha-512":
            errors.append(f"strimzi: KafkaUser {user} must authenticate (scram-sha-512)")
    if ("KafkaUser", INTEGRATOR_USER) not in index:
        errors.append(f"strimzi: no KafkaUser {INTEGRATOR_USER} for integrators")
    else:
        integrator = index["KafkaUser", INTEGRATOR_USER][1]
        check_acls(INTEGRATOR_USER, user_acls(integrator), integrator_acls(), errors)
    for kind, name in index:
        if kind == "KafkaUser" and name not in wanted and name != INTEGRATOR_USER:
            errors.append(f"strimzi: KafkaUser {name} is in no ACL table")


def check_acls(user: str, actual: set[Acl], expected: set[Acl], errors: list[str]) -> None:
    for acl in sorted(expected - actual):
        errors.append(f"strimzi: KafkaUser {user} lacks {acl[3]} on {acl[0]} {acl[1]} ({acl[2]})")
    for acl in sorted(actual - expected):
        errors.append(
            f"strimzi: KafkaUser {user} has {acl[3]} on {acl[0]} {acl[1]} ({acl[2]}): not in the table"
        )


def check_code_reads_only_what_acls_allow(repo: Path, errors: list[str]) -> None:
    """A consumer subscribing to a topic its KafkaUser may not read would be refused by the broker in
    production only: every `topics.<NAME>` a service's consumers/ mention must be in its read table."""
    names = {
        name: getattr(topics, name) for name in dir(topics) if getattr(topics, name) in topics.ALL_TOPICS
    }
    for service in SERVICES:
        folder = repo / "services" / service.name / "src" / service.package / "consumers"
        for module in sorted(folder.rglob("*.py")):
            for name in sorted(set(re.findall(r"\btopics\.([A-Z_]+)\b", module.read_text()))):
                topic = names.get(name)
                if topic and topic not in service.consumes:
                    errors.append(
                        f"{module.relative_to(repo)}: {service.name} consumes {topic}, "
                        "which its KafkaUser may not read (deploy/validate.py SERVICES)"
                    )


def check_lag_metric_served(repo: Path, errors: list[str]) -> None:
    values = yaml.safe_load((repo / "deploy" / "k8s" / "prometheus-adapter" / "values.yaml").read_text())
    served = {rule.get("name", {}).get("as") for rule in values.get("rules", {}).get("external", [])}
    if LAG_METRIC not in served:
        errors.append(f"prometheus-adapter: no external rule serves {LAG_METRIC}")


def check_overlays(repo: Path, errors: list[str]) -> None:
    """Overlays only patch the base (kubectl kustomize renders them); what they build on must exist."""
    for kustomization in sorted((repo / "deploy" / "k8s" / "overlays").glob("*/kustomization.yaml")):
        for resource in yaml.safe_load(kustomization.read_text()).get("resources", []):
            if not (kustomization.parent / resource).exists():
                errors.append(f"{kustomization.relative_to(repo)}: resource {resource} does not exist")


def check_k8s(errors: list[str], repo: Path = REPO) -> int:
    documents = kustomize_documents(repo / "deploy" / "k8s" / "base", errors)
    for path, doc, _ in documents:
        for key in ("apiVersion", "kind", "metadata"):
            if key not in doc:
                errors.append(f"{path}: missing {key}")
    index = by_kind_and_name(documents)

    def names(kind: str) -> set[str]:
        return {name for k, name in index if k == kind}

    for path, doc, selector_labels in documents:
        where = f"{path.relative_to(repo)} ({doc['kind']} {doc['metadata']['name']})"
        if doc["kind"] == "Deployment":
            check_deployment(where, doc, selector_labels, errors)
            for source in doc["spec"]["template"]["spec"]["containers"][0].get("envFrom", []):
                if source["configMapRef"]["name"] not in names("ConfigMap"):
                    errors.append(f"{where}: ConfigMap {source['configMapRef']['name']} is not defined")
        elif doc["kind"] == "HorizontalPodAutoscaler":
            spec = doc["spec"]
            if spec["scaleTargetRef"]["name"] not in names("Deployment"):
                errors.append(f"{where}: scales an undefined Deployment")
            if spec["scaleTargetRef"]["name"].endswith("-relay"):
                errors.append(f"{where}: scales a relay (one active pod holds its lock: more would stand by)")
            if spec["maxReplicas"] != PARTITIONS:
                errors.append(f"{where}: maxReplicas must equal the partition count ({PARTITIONS})")
        elif doc["kind"] == "Job":
            for container in doc["spec"]["template"]["spec"]["containers"]:
                if container.get("args", [])[:1] != ["alembic"]:
                    errors.append(f"{where}: a migration Job runs alembic")
                check_env(where, container, errors)
    for service in SERVICES:
        check_service(service, index, errors)
    check_topics(index, errors)
    check_users(index, errors)
    check_code_reads_only_what_acls_allow(repo, errors)
    check_lag_metric_served(repo, errors)
    check_overlays(repo, errors)
    check_schemas(documents, repo, errors)
    return len(documents)


def check_compose(errors: list[str], repo: Path = REPO) -> int:
    compose = yaml.safe_load((repo / "docker-compose.yml").read_text())
    services = compose["services"]
    for name, service in services.items():
        if "image" not in service and "build" not in service:
            errors.append(f"docker-compose.yml: {name} has neither image nor build")
        for dependency, condition in service.get("depends_on", {}).items():
            if dependency not in services:
                errors.append(f"docker-compose.yml: {name} depends on undefined {dependency}")
                continue
            wanted = condition["condition"]
            if wanted == "service_healthy" and "healthcheck" not in services[dependency]:
                errors.append(
                    f"docker-compose.yml: {name} waits for {dependency} to be healthy; it has no check"
                )
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            generated = source.startswith("./.local/")  # made by `make tokens` / `make run`, not versioned
            if source.startswith("./") and not generated and not (repo / source).exists():
                errors.append(f"docker-compose.yml: {name} mounts missing {source}")
            elif not source.startswith(("./", "/")) and source not in (compose.get("volumes") or {}):
                errors.append(f"docker-compose.yml: {name} uses undeclared volume {source}")
    for service in SERVICES:
        check_compose_service(service, services, errors)
    check_compose_infrastructure(services, repo, errors)
    return len(services)


def check_compose_service(service: Service, services: dict[str, Any], errors: list[str]) -> None:
    where = f"docker-compose.yml: {service.name}"
    if service.name not in services:
        errors.append(f"{where} is not defined")
        return
    spec = services[service.name]
    args = spec.get("build", {}).get("args", {})
    if args != {"SERVICE": service.name, "PACKAGE": service.package}:
        errors.append(f"{where} must build deploy/docker/service.Dockerfile with SERVICE and PACKAGE")
    if f"{service.port}:8000" not in spec.get("ports", []):
        errors.append(f"{where} must publish {service.port}:8000")
    command = " ".join(spec.get("command", []))
    migrate = command.find(f"alembic -c services/{service.name}/alembic.ini upgrade head")
    start = command.find(f"uvicorn --factory {service.package}.app:create_app_from_env")
    if migrate < 0 or start < 0 or migrate > start:
        errors.append(f"{where} must run its migrations, then uvicorn")
    environment = spec.get("environment", {})
    url = environment.get(f"{service.env_prefix}_DATABASE_URL", "")
    if not url.endswith(f"/{service.database}"):
        errors.append(f"{where}: {service.env_prefix}_DATABASE_URL must point at {service.database}")
    if f"{service.env_prefix}_KAFKA_BOOTSTRAP_SERVERS" not in environment:
        errors.append(f"{where}: {service.env_prefix}_KAFKA_BOOTSTRAP_SERVERS is not set")
    if "healthcheck" not in spec:
        errors.append(f"{where} has no health check")
    depends = spec.get("depends_on", {})
    for dependency, condition in (
        ("postgres", "service_healthy"),
        ("kafka", "service_healthy"),
        ("kafka-init", "service_completed_successfully"),
    ):
        if depends.get(dependency, {}).get("condition") != condition:
            errors.append(f"{where} must wait for {dependency} ({condition})")


def check_compose_infrastructure(services: dict[str, Any], repo: Path, errors: list[str]) -> None:
    """The official images, every topic created, every database created."""
    if not str(services.get("kafka", {}).get("image", "")).startswith("apache/kafka:"):
        errors.append("docker-compose.yml: kafka must run the official apache/kafka image")
    if not str(services.get("postgres", {}).get("image", "")).startswith("postgres:"):
        errors.append("docker-compose.yml: postgres must run the official postgres image")
    script = "".join(services.get("kafka-init", {}).get("command", []))
    looped = re.search(r"for context in ([a-z ]+);", script)
    contexts = set(looped.group(1).split()) if looped else set()
    makes_dlt = '"dife.$${context}.events.dlt"' in script
    for topic in topics.ALL_TOPICS:
        if topics.context_of(topic) not in contexts or not makes_dlt:
            errors.append(f"docker-compose.yml: kafka-init does not create {topic} and its DLT")
    created: set[str] = set()
    for sql in sorted((repo / "deploy" / "docker" / "postgres-init").glob("*.sql")):
        created |= set(re.findall(r"CREATE DATABASE (\w+)", sql.read_text(), flags=re.IGNORECASE))
    for service in SERVICES:
        if service.database not in created:
            errors.append(f"deploy/docker/postgres-init: no CREATE DATABASE {service.database}")


def validate(repo: Path = REPO) -> tuple[list[str], int, int]:
    """All the checks: (errors, Kubernetes documents, compose services)."""
    errors: list[str] = []
    manifests = check_k8s(errors, repo)
    services = check_compose(errors, repo)
    return errors, manifests, services


def main() -> int:
    errors, manifests, services = validate()
    for error in errors:
        print(f"ERROR {error}", file=sys.stderr)
    if errors:
        return 1
    print(
        f"ok: {manifests} Kubernetes documents (schemas of Kubernetes {KUBERNETES_VERSION}), "
        f"{len(SERVICES)} services, {len(topics.ALL_TOPICS) * 2} topics, {len(SERVICES) + 1} Kafka users, "
        f"{services} compose services"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
