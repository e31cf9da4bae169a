"""Match-quality coverage: a pure accumulator over what the relay sends, withholds and dead-letters.

Counts are kept per (route, TikTok event name). Shares have two denominators, chosen so they answer the operator's
two questions:

- *What does TikTok receive?* Identifier shares, event-id origin and unparseable identifiers are shares of the
  events **sent** (mapped and approved by policy): "38% of sent Purchase events carry a phone".
- *Where are events lost?* Consent, rejection and dead-letter shares are shares of all events **observed** for the
  row (sent + withheld for consent + rejected before sending); an event dead-lettered after sending was first
  counted as sent, so ``sent`` minus ``dead_lettered`` is what TikTok accepted.

Nothing here does I/O; ``consumer.report.source`` feeds it from a Kafka topic and
``consumer.report.scrape`` from the service's Prometheus metrics.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from consumer.model import ConsentWithheld, EventSource, Failure, OutboundEvent, Stage
from consumer.observability.coverage import DEVICE_IDS, IDENTIFIERS, UNKNOWN, identifiers_present

SENT_STAGES: frozenset[Stage] = frozenset({Stage.SEND})
"""Failure stages that happen after an event was sent (and counted as sent); all others reject before sending."""


def share(part: int, whole: int) -> float | None:
    """``part / whole``, or None when there is nothing to divide (a share of no events is not 0%)."""
    return part / whole if whole else None


@dataclass(slots=True)
class EventCoverage:
    """The counts of one (route, event name) row."""

    route: str
    event: str
    sent: int = 0
    consent_withheld: int = 0
    rejected: int = 0
    dead_lettered: int = 0
    identifiers: Counter[str] = field(default_factory=Counter)
    event_id_origins: Counter[str] = field(default_factory=Counter)
    event_sources: Counter[str] = field(default_factory=Counter)
    unparseable: Counter[str] = field(default_factory=Counter)
    failure_reasons: Counter[str] = field(default_factory=Counter)
    att_statuses: Counter[str] = field(default_factory=Counter)

    @property
    def name(self) -> str:
        """How reports name the row: ``Purchase (order-paid)``; rows of failures before the event was known are
        ``unrouted records`` or ``order-paid (event unknown)``."""
        if self.event != UNKNOWN:
            return f"{self.event} ({self.route})"
        return "unrouted records" if self.route == UNKNOWN else f"{self.route} (event unknown)"

    @property
    def observed(self) -> int:
        """Every event counted in the row: sent, withheld for consent, or rejected before sending."""
        return self.sent + self.consent_withheld + self.rejected

    def identifier_share(self, identifier: str) -> float | None:
        """Share of sent events that carry ``identifier``."""
        return share(self.identifiers[identifier], self.sent)

    @property
    def pixel_event_id_share(self) -> float | None:
        """Share of sent events whose event_id came from the record (shared with the Pixel), not derived."""
        return share(self.event_id_origins["record"], self.sent)

    def unparseable_share(self, identifier: str) -> float | None:
        """Share of sent events whose ``identifier`` was present in the record but dropped as unparseable."""
        return share(self.unparseable[identifier], self.sent)

    @property
    def consent_share(self) -> float | None:
        return share(self.consent_withheld, self.observed)

    @property
    def rejected_share(self) -> float | None:
        return share(self.rejected, self.observed)

    @property
    def dead_letter_share(self) -> float | None:
        return share(self.dead_lettered, self.observed)

    @property
    def web_like(self) -> bool:
        """True when the row's events go to a browser or app source, where click ids, cookies, IP and user agent
        exist; a row without known sources (read from metrics before its first sent event) counts as web-like."""
        return not self.event_sources or any(
            source in (EventSource.WEB, EventSource.APP) for source in self.event_sources
        )

    @property
    def app(self) -> bool:
        """True when the row's events go to an app event source (device ids and ATT status apply)."""
        return EventSource.APP in self.event_sources

    def add_failures(self, stage: Stage, reason: str, count: int = 1) -> None:
        """Count ``count`` dead-lettered events: after sending for a send-stage failure, else rejected before."""
        if stage in SENT_STAGES:
            self.dead_lettered += count
        else:
            self.rejected += count
        self.failure_reasons[f"{stage.value}/{reason}"] += count

    def to_json(self) -> dict[str, Any]:
        """Counts and shares as plain JSON values (the ``--json`` output)."""
        return {
            "route": self.route,
            "event": self.event,
            "name": self.name,
            "observed": self.observed,
            "sent": self.sent,
            "consent_withheld": self.consent_withheld,
            "rejected": self.rejected,
            "dead_lettered": self.dead_lettered,
            "event_sources": sorted(self.event_sources),
            "identifiers": {name: self.identifiers[name] for name in IDENTIFIERS},
            "identifier_shares": {name: self.identifier_share(name) for name in IDENTIFIERS},
            "event_id_origins": dict(sorted(self.event_id_origins.items())),
            "pixel_event_id_share": self.pixel_event_id_share,
            "unparseable": dict(sorted(self.unparseable.items())),
            "failure_reasons": dict(self.failure_reasons.most_common()),
            "consent_share": self.consent_share,
            "rejected_share": self.rejected_share,
            "dead_letter_share": self.dead_letter_share,
            "device_ids": {name: self.identifiers[name] for name in DEVICE_IDS},
            "att_statuses": dict(sorted(self.att_statuses.items())),
        }


class Coverage:
    """Accumulates outcomes into one ``EventCoverage`` per (route, event name)."""

    def __init__(self) -> None:
        self._rows: dict[tuple[str, str], EventCoverage] = {}

    def row(self, route: str | None, event: str | None) -> EventCoverage:
        """The row of (route, event), created empty on first use; unknown parts are named ``UNKNOWN``."""
        key = (route or UNKNOWN, event or UNKNOWN)
        found = self._rows.get(key)
        if found is None:
            found = self._rows[key] = EventCoverage(route=key[0], event=key[1])
        return found

    def observe_outbound(self, event: OutboundEvent) -> None:
        """An event that was sent (or is about to be): count its identifiers, event-id origin and source."""
        row = self.row(event.route, event.event.event)
        row.sent += 1
        row.identifiers.update(identifiers_present(event.event.user))
        row.event_id_origins[event.event_id_origin] += 1
        row.event_sources[event.destination.event_source.value] += 1
        if event.event.user.att_status:
            row.att_statuses[event.event.user.att_status] += 1

    def observe_withheld(self, withheld: ConsentWithheld) -> None:
        """An event withheld for lack of consent."""
        self.row(withheld.route, withheld.event).consent_withheld += 1

    def observe_failure(self, route: str | None, event: str | None, failure: Failure) -> None:
        """A dead-lettered event. A send-stage failure follows an ``observe_outbound`` of the same event, so it
        counts as dead-lettered after sending; any earlier stage rejected the event before it was sent."""
        self.row(route or failure.route, event).add_failures(failure.stage, failure.reason)

    def observe_unparseable(self, route: str, event: str, identifier: str) -> None:
        """An identifier the record carried but policy dropped because it could not be normalised."""
        self.row(route, event).unparseable[identifier] += 1

    def rows(self) -> list[EventCoverage]:
        """All rows, ordered by route then event name."""
        return [self._rows[key] for key in sorted(self._rows)]


def percent(value: float | None) -> str:
    """A share for people: whole percents, never rounding a few events to 0% or all-but-a-few to 100%."""
    if value is None:
        return "-"
    if 0 < value < 0.01:
        return "<1%"
    if 0.99 < value < 1:
        return ">99%"
    return f"{value:.0%}"
