"""The Grafana dashboard shipped with the chart: valid JSON whose queries name only metrics the service exports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from consumer.observability.metrics import REGISTRY

DASHBOARD = Path(__file__).resolve().parents[2] / "helm/tiktok-events-relay/dashboards/tiktok-events-relay.json"
METRIC_NAME = re.compile(r"\btiktok_relay_[a-z0-9_]+")
SAMPLE_SUFFIXES = {"counter": ("_total",), "gauge": ("",), "histogram": ("_bucket", "_sum", "_count")}


def load() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


def queries(dashboard: dict[str, Any]) -> list[str]:
    exprs = [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]
    exprs += [variable["definition"] for variable in dashboard["templating"]["list"] if "definition" in variable]
    return exprs


def exported_names() -> set[str]:
    """Every sample name the service's registry can expose (counter ``_total``, histogram ``_bucket`` ...)."""
    return {family.name + suffix for family in REGISTRY.collect() for suffix in SAMPLE_SUFFIXES.get(family.type, ("",))}


def test_dashboard_is_grafana_json_with_unique_panel_ids() -> None:
    """It parses, has a stable uid, and every panel has its own id and fits Grafana's 24-column grid."""
    dashboard = load()
    assert dashboard["uid"] == "tiktok-events-relay"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def test_every_queried_metric_exists() -> None:
    """Each tiktok_relay_* name in a query or variable is a sample name of consumer/observability/metrics.py."""
    names = {name for expr in queries(load()) for name in METRIC_NAME.findall(expr)}
    assert names, "the dashboard queries no tiktok_relay metric"
    assert sorted(names - exported_names()) == []


def test_coverage_metrics_are_charted() -> None:
    """Identifier presence, event-id origin, unparseable identifiers and failures by event all have a panel."""
    charted = {name for expr in queries(load()) for name in METRIC_NAME.findall(expr)}
    assert {
        "tiktok_relay_identifier_present_total",
        "tiktok_relay_coverage_events_total",
        "tiktok_relay_identifier_unparseable_total",
        "tiktok_relay_coverage_failures_total",
        "tiktok_relay_consent_dropped_total",
        "tiktok_relay_dead_lettered_total",
        "tiktok_relay_tiktok_responses_total",
    } <= charted


def test_panels_use_the_datasource_variable() -> None:
    """No panel or query is pinned to one Grafana's data source uid: all use ${datasource}."""
    dashboard = load()
    for panel in dashboard["panels"]:
        for item in (panel, *panel.get("targets", [])):
            if "datasource" in item:
                assert item["datasource"]["uid"] == "${datasource}", panel["title"]
