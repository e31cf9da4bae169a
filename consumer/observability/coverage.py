"""Match-quality coverage as Prometheus metrics, recorded by the running service from what it actually sends.

The service calls ``record_coverage`` once per ``OutboundEvent`` it hands to the sender, ``record_failure`` once per
dead-lettered event, and ``record_unparseable`` when policy drops an identifier it could not normalise. Consent drops
are already counted by ``tiktok_relay_consent_dropped_total{route,event}``. Together these are the counts of
``consumer.report.coverage.EventCoverage``, so ``tiktok-relay report --metrics-url`` and the Grafana dashboard show
the same shares as a report read from Kafka. The names of the identifiers counted are defined here, below the
report that reads them back.
"""

from __future__ import annotations

from consumer.model import Failure, OutboundEvent, TikTokUser
from consumer.observability.metrics import (
    ATT_STATUS,
    COVERAGE_EVENTS,
    COVERAGE_FAILURES,
    IDENTIFIER_PRESENT,
    IDENTIFIER_UNPARSEABLE,
    child,
)

IDENTIFIERS: tuple[str, ...] = ("email", "phone", "external_id", "ttclid", "ttp", "ip", "user_agent")
"""The ``user`` fields TikTok matches on, in the order reports show them."""

DEVICE_IDS: tuple[str, ...] = ("idfa", "idfv", "gaid")
"""The device ids of app events; reports show their shares for app rows only, beside the ATT status."""

UNKNOWN = "(unknown)"
"""Route or event name of a failure that happened before it was known (a decode error, an unroutable record)."""


def identifiers_present(user: TikTokUser) -> tuple[str, ...]:
    """The names in ``IDENTIFIERS`` and ``DEVICE_IDS`` that ``user`` carries (a non-empty tuple or a non-None
    value)."""
    return tuple(name for name in (*IDENTIFIERS, *DEVICE_IDS) if getattr(user, name))


def record_coverage(event: OutboundEvent) -> None:
    """Count one event handed to the sender: its event_id origin and each identifier it carries. Hot path."""
    tiktok = event.event
    # ``child`` caches each label set: ``labels()`` validates and locks on every call.
    child(COVERAGE_EVENTS, event.route, tiktok.event, event.destination.event_source.value, event.event_id_origin).inc()
    for identifier in identifiers_present(tiktok.user):
        child(IDENTIFIER_PRESENT, event.route, tiktok.event, identifier).inc()
    if tiktok.user.att_status:
        child(ATT_STATUS, event.route, tiktok.event, tiktok.user.att_status).inc()


def record_failure(route: str | None, event: str | None, failure: Failure) -> None:
    """Count one dead-lettered event by route and event name (``UNKNOWN`` when it failed before mapping)."""
    COVERAGE_FAILURES.labels(
        route or failure.route or UNKNOWN, event or UNKNOWN, failure.stage.value, failure.reason
    ).inc()


def record_unparseable(route: str, event: str, identifier: str) -> None:
    """Count one identifier the record carried but policy dropped as unparseable."""
    IDENTIFIER_UNPARSEABLE.labels(route, event, identifier).inc()
