"""The dashboard and the alerts name only metrics some service exports; every alert has a runbook section.

The exported names are read from the Prometheus registry after importing `servicekit.metrics` and every
service's metrics module (`services/*/src/<package>/**/metrics.py`), so a dashboard panel or an alert over a
metric nobody exports fails here, naming the metric.
"""

from __future__ import annotations

import importlib
import json
import re
from pathlib import Path
from typing import Any

import yaml
from prometheus_client import REGISTRY

ROOT = Path(__file__).resolve().parents[3]
OBSERVABILITY = ROOT / "deploy" / "observability"
RUNBOOK = ROOT / "docs" / "runbook.md"
METRIC_NAME = re.compile(r"\b(?:dife|dossier|funding|payout|contributions|ledger|catalogue)_[a-z0-9_]+\b")
"""The platform's metric names: `dife_*` from servicekit, `<service>_*` from a service's own module."""
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("", "_count", "_sum", "_created"),
    "info": ("_info",),
}


def service_metric_modules() -> list[str]:
    """Each service's `app` module: importing it registers every metric the service exports, wherever its
    collectors are defined (`metrics.py`, a job, a use case)."""
    return sorted(
        f"{package.name}.app" for package in ROOT.glob("services/*/src/*") if (package / "app.py").is_file()
    )


def exported_metrics() -> set[str]:
    """Every sample name the platform can expose, from the collectors its modules register."""
    for module in ["servicekit.metrics", *service_metric_modules()]:
        importlib.import_module(module)
    names: set[str] = set()
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((OBSERVABILITY / "grafana-dashboard.json").read_text(encoding="utf-8"))
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    for variable in dashboard["templating"]["list"]:
        query = variable.get("query")
        if isinstance(query, dict):
            expressions.append(query["query"])
    return expressions


def alert_rules() -> list[dict[str, Any]]:
    rules = yaml.safe_load((OBSERVABILITY / "prometheus-alerts.yaml").read_text(encoding="utf-8"))
    return [rule for group in rules["groups"] for rule in group["rules"]]


def test_the_service_metric_modules_are_found_by_their_path() -> None:
    for module in service_metric_modules():
        assert module.split(".")[0] in {
            "rights_ledger",
            "catalogue",
            "dossier",
            "funding",
            "contributions",
            "payout",
        }, module


def test_every_metric_of_the_dashboard_is_exported_by_some_service() -> None:
    exported = exported_metrics()
    named = {name for expression in dashboard_expressions() for name in METRIC_NAME.findall(expression)}
    missing = sorted(named - exported)
    assert not missing, f"the dashboard uses metrics no service exports: {', '.join(missing)}"


def test_every_metric_of_the_alert_rules_is_exported_by_some_service() -> None:
    exported = exported_metrics()
    named = {name for rule in alert_rules() for name in METRIC_NAME.findall(rule["expr"])}
    missing = sorted(named - exported)
    assert not missing, f"the alert rules use metrics no service exports: {', '.join(missing)}"


def test_every_dashboard_metric_has_an_alert_and_every_alert_a_runbook_section() -> None:
    alerting = {name for rule in alert_rules() for name in METRIC_NAME.findall(rule["expr"])}
    shown = {name for expression in dashboard_expressions() for name in METRIC_NAME.findall(expression)}
    assert not shown - alerting, f"shown but never alerted on: {sorted(shown - alerting)}"
    runbook = RUNBOOK.read_text(encoding="utf-8")
    headings = {line.removeprefix("## ").strip() for line in runbook.splitlines() if line.startswith("## ")}
    without = [rule["alert"] for rule in alert_rules() if rule["alert"] not in headings]
    assert not without, f"alerts without a runbook section (## <AlertName>): {without}"
    for rule in alert_rules():
        assert rule["annotations"]["runbook"] == f"docs/runbook.md#{rule['alert'].lower()}", rule["alert"]
