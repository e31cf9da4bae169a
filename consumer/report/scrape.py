"""Coverage from the running service's Prometheus metrics (``/metrics``), for a report during a rollout.

Counters count since each pod started, so a report from metrics covers each pod's lifetime, not a time window;
pass every pod's URL to add them up. Parsing is pure (``add_metrics``); only ``fetch_metrics`` does I/O.
"""

from __future__ import annotations

import urllib.parse
import urllib.request

from prometheus_client.parser import text_string_to_metric_families

from consumer.model import Stage
from consumer.observability.metrics import NS
from consumer.report.coverage import Coverage

COVERAGE_EVENTS = f"{NS}_coverage_events_total"
IDENTIFIER_PRESENT = f"{NS}_identifier_present_total"
IDENTIFIER_UNPARSEABLE = f"{NS}_identifier_unparseable_total"
ATT_STATUS = f"{NS}_att_status_total"
CONSENT_DROPPED = f"{NS}_consent_dropped_total"
COVERAGE_FAILURES = f"{NS}_coverage_failures_total"


class ScrapeError(Exception):
    """The metrics endpoint could not be read."""


def add_metrics(coverage: Coverage, text: str) -> None:
    """Add the coverage counters found in a Prometheus text exposition to ``coverage``."""
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels = sample.labels
            count = int(sample.value)
            if sample.name == COVERAGE_EVENTS:
                row = coverage.row(labels["route"], labels["event"])
                row.sent += count
                row.event_id_origins[labels["event_id_origin"]] += count
                row.event_sources[labels["event_source"]] += count
            elif sample.name == IDENTIFIER_PRESENT:
                coverage.row(labels["route"], labels["event"]).identifiers[labels["identifier"]] += count
            elif sample.name == IDENTIFIER_UNPARSEABLE:
                coverage.row(labels["route"], labels["event"]).unparseable[labels["identifier"]] += count
            elif sample.name == ATT_STATUS:
                coverage.row(labels["route"], labels["event"]).att_statuses[labels["att_status"]] += count
            elif sample.name == CONSENT_DROPPED:
                coverage.row(labels["route"], labels["event"]).consent_withheld += count
            elif sample.name == COVERAGE_FAILURES:
                row = coverage.row(labels["route"], labels["event"])
                row.add_failures(Stage(labels["stage"]), labels["reason"], count)


def fetch_metrics(url: str, timeout_s: float = 10.0) -> str:
    """GET a ``/metrics`` page over http(s) and return its text."""
    if urllib.parse.urlsplit(url).scheme not in ("http", "https"):
        raise ScrapeError(f"metrics URL must be http or https: {url}")
    try:
        with urllib.request.urlopen(url, timeout=timeout_s) as response:  # noqa: S310 - scheme checked above
            body: bytes = response.read()
    except OSError as error:
        raise ScrapeError(f"cannot read metrics from {url}: {error}") from None
    return body.decode("utf-8")
