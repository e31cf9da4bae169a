"""Match-quality coverage as Prometheus metrics, recorded by the running service from what it actually sends.

The service counts every ``OutboundEvent`` it hands to the sender in a ``CoverageTally`` (added to the counters
once per poll-loop turn), calls ``record_failure`` once per dead-lettered event, and ``record_unparseable`` when
policy drops an identifier it could not normalise. Consent drops are already counted by
``tiktok_relay_consent_dropped_total{route,event}``. Together these are the counts of
``consumer.report.coverage.EventCoverage``, so ``tiktok-relay report --metrics-url`` and the Grafana dashboard show
the same shares as a report read from Kafka. The names of the identifiers counted are defined here, below the
report that reads them back.
"""

from __future__ import annotations

from operator import attrgetter

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


_COUNTED: tuple[str, ...] = (*IDENTIFIERS, *DEVICE_IDS)
_counted_values = attrgetter(*_COUNTED)

CoverageKey = tuple[str, str, str, str, tuple[bool, ...], str | None]
"""What an event is counted under: route, event name, event source, event_id origin, which of ``IDENTIFIERS`` and
``DEVICE_IDS`` it carries (a flag each, in that order), ATT status. Events of one route share a few keys."""


def coverage_key(event: OutboundEvent) -> CoverageKey:
    """The event's key; its flags are ``identifiers_present`` read in C (one ``attrgetter`` and ``map(bool)``)."""
    tiktok = event.event
    user = tiktok.user
    return (
        event.route,
        tiktok.event,
        event.destination.event_source.value,
        event.event_id_origin,
        tuple(map(bool, _counted_values(user))),
        user.att_status,
    )


class CoverageTally:
    """Counts the events handed to the sender (their event_id origin and each identifier they carry) per poll-loop
    turn: ``add`` per event is one dict update, and ``flush`` adds each key's count to the Prometheus counters once
    (``labels()`` validates and locks, ``inc()`` locks: too dear per event)."""

    __slots__ = ("_counts",)

    def __init__(self) -> None:
        self._counts: dict[CoverageKey, int] = {}

    def add(self, event: OutboundEvent) -> None:
        """Count one event handed to the sender. Hot path."""
        key = coverage_key(event)
        self._counts[key] = self._counts.get(key, 0) + 1

    def flush(self) -> None:
        """Add the counts since the last flush to the counters."""
        for (route, name, source, origin, carried, att_status), count in self._counts.items():
            child(COVERAGE_EVENTS, route, name, source, origin).inc(count)
            for identifier, present in zip(_COUNTED, carried, strict=True):
                if present:
                    child(IDENTIFIER_PRESENT, route, name, identifier).inc(count)
            if att_status:
                child(ATT_STATUS, route, name, att_status).inc(count)
        self._counts.clear()


def record_failure(route: str | None, event: str | None, failure: Failure) -> None:
    """Count one dead-lettered event by route and event name (``UNKNOWN`` when it failed before mapping)."""
    COVERAGE_FAILURES.labels(
        route or failure.route or UNKNOWN, event or UNKNOWN, failure.stage.value, failure.reason
    ).inc()


def record_unparseable(route: str, event: str, identifier: str) -> None:
    """Count one identifier the record carried but policy dropped as unparseable."""
    IDENTIFIER_UNPARSEABLE.labels(route, event, identifier).inc()
