"""Coverage as Prometheus metrics, recorded by the running service from what it actually sends.

The service calls ``record_coverage`` once per ``OutboundEvent`` it hands to the sender, ``record_failure`` once per
dead-lettered event, and ``record_unparseable`` when policy drops an identifier it could not normalise. Consent drops
are already counted by ``tiktok_relay_consent_dropped_total{route,event}``. Together these are the counts of
``consumer.report.coverage.EventCoverage``, so ``tiktok-relay report --metrics-url`` and the Grafana dashboard show
the same shares as a report read from Kafka.
"""

from __future__ import annotations

from functools import cache

from prometheus_client import Counter as MetricCounter

from consumer.model import Failure, OutboundEvent
from consumer.observability.metrics import (
    COVERAGE_EVENTS,
    COVERAGE_FAILURES,
    IDENTIFIER_PRESENT,
    IDENTIFIER_UNPARSEABLE,
)
from consumer.report.coverage import UNKNOWN, identifiers_present


# ``labels()`` validates and locks on every call; caching the children keeps the per-event cost to a dict lookup
# and an increment. The caches stay small because every label value is bounded (routes and event names come from
# the config, identifiers and origins are fixed sets).
@cache
def _event_child(route: str, event: str, event_source: str, origin: str) -> MetricCounter:
    return COVERAGE_EVENTS.labels(route, event, event_source, origin)


@cache
def _identifier_child(route: str, event: str, identifier: str) -> MetricCounter:
    return IDENTIFIER_PRESENT.labels(route, event, identifier)


def record_coverage(event: OutboundEvent) -> None:
    """Count one event handed to the sender: its event_id origin and each identifier it carries. Hot path."""
    tiktok = event.event
    _event_child(event.route, tiktok.event, event.destination.event_source.value, event.event_id_origin).inc()
    for identifier in identifiers_present(tiktok.user):
        _identifier_child(event.route, tiktok.event, identifier).inc()


def record_failure(route: str | None, event: str | None, failure: Failure) -> None:
    """Count one dead-lettered event by route and event name (``UNKNOWN`` when it failed before mapping)."""
    COVERAGE_FAILURES.labels(
        route or failure.route or UNKNOWN, event or UNKNOWN, failure.stage.value, failure.reason
    ).inc()


def record_unparseable(route: str, event: str, identifier: str) -> None:
    """Count one identifier the record carried but policy dropped as unparseable."""
    IDENTIFIER_UNPARSEABLE.labels(route, event, identifier).inc()
