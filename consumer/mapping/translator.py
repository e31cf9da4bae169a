"""The map + policy stage: ``Translator.translate`` turns one decoded record into an ``OutboundEvent`` (mapped,
consented, minimised, normalised and hashed), a ``ConsentWithheld`` audit record, or ``Skipped`` (a skip rule says
the record is no conversion), or raises a ``TranslationError`` (a ``PermanentError``: stage ``map`` or ``policy``).
Pure: no I/O; it only counts dropped identifiers."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from consumer.consent_table.entry import PurposeBits
from consumer.fields.paths import recording_paths
from consumer.mapping.errors import NoRouteError
from consumer.mapping.route import CompiledRoute, Selector, compile_match
from consumer.mapping.settings import TranslatorSettings
from consumer.model import ConsentWithheld, DomainRecord, OutboundEvent, Skipped, SourceRef
from consumer.observability.coverage import record_unparseable
from consumer.observability.metrics import IDENTIFIERS_DROPPED, child
from consumer.policy.identifiers import DropHandler

Translation = OutboundEvent | ConsentWithheld | Skipped


def _drop_counter(route: CompiledRoute) -> DropHandler:
    def count(identifier: str, cause: str) -> None:
        child(IDENTIFIERS_DROPPED, route.name, identifier, cause).inc()
        if cause != "pii":
            record_unparseable(route.name, route.event, identifier)

    return count


@dataclass(frozen=True, slots=True)
class Explanation:
    """What ``translate`` would do with a record, and which identifiers it would drop (for ``tiktok-relay map``)."""

    route: str
    result: Translation
    dropped: list[tuple[str, str]] = field(default_factory=list)


class Translator:
    """Route table and compiled routes, built once from their settings at start-up (config errors surface there)."""

    def __init__(self, settings: TranslatorSettings) -> None:
        routes: dict[str, list[CompiledRoute]] = defaultdict(list)
        counters: dict[str, DropHandler] = {}
        reads: dict[str, set[str]] = defaultdict(set)
        purposes = None if settings.consent_purposes is None else PurposeBits(settings.consent_purposes)
        for route_settings in settings.routes:
            with recording_paths() as paths:
                route = CompiledRoute(route_settings, settings.policy, settings.test_event_code, purposes)
            routes[route.topic].append(route)
            counters[route.name] = _drop_counter(route)
            reads[route.topic] |= paths
        skips: dict[str, list[tuple[str, Selector]]] = defaultdict(list)
        for rule in settings.skip:
            with recording_paths() as paths:
                skips[rule.topic].append((rule.name, compile_match(rule.match)))
            reads[rule.topic] |= paths
        self._routes = {topic: tuple(candidates) for topic, candidates in routes.items()}
        self._skips = {topic: tuple(rules) for topic, rules in skips.items()}
        self._counters = counters
        self._reads = {topic: frozenset(paths) for topic, paths in reads.items()}

    @property
    def topics(self) -> list[str]:
        """The topics the routes read, in config order."""
        return list(self._routes)

    @property
    def field_paths(self) -> dict[str, frozenset[str]]:
        """Per topic, every field path its routes and skip rules read (``Decoder.from_settings``'s ``reads``): no
        other value of its records is looked at, so no other logical value needs converting."""
        return dict(self._reads)

    def select(self, record: DomainRecord, topic: str) -> CompiledRoute:
        """The first route of ``topic`` that selects ``record``; ``NoRouteError`` when none does."""
        route = self._route_for(record, topic)
        if route is None:
            raise _no_route(record, topic)
        return route

    def translate(self, record: DomainRecord, ref: SourceRef, now_ms: int) -> Translation:
        """Map one record; ``now_ms`` is the clock for the event window and the audit time. Hot path."""
        route = self._route_for(record, ref.topic)
        if route is None:
            return self._skip(record, ref)
        return route.translate(record, ref, now_ms, self._counters[route.name])

    def explain(self, record: DomainRecord, ref: SourceRef, now_ms: int) -> Explanation:
        """Like ``translate`` but counts nothing and reports the dropped identifiers (raises the same errors)."""
        route = self._route_for(record, ref.topic)
        if route is None:
            skipped = self._skip(record, ref)
            return Explanation(skipped.rule, skipped)
        dropped: list[tuple[str, str]] = []

        def note(identifier: str, cause: str) -> None:
            dropped.append((identifier, cause))

        return Explanation(route.name, route.translate(record, ref, now_ms, note), dropped)

    def _route_for(self, record: DomainRecord, topic: str) -> CompiledRoute | None:
        for route in self._routes.get(topic, ()):
            if route.selects(record):
                return route
        return None

    def _skip(self, record: DomainRecord, ref: SourceRef) -> Skipped:
        """The skip rule that takes an unrouted record; ``NoRouteError`` when none does."""
        for name, selects in self._skips.get(ref.topic, ()):
            if selects(record):
                return Skipped(ref, name)
        raise _no_route(record, ref.topic)


def _no_route(record: DomainRecord, topic: str) -> NoRouteError:
    return NoRouteError(f"no route selects this record (topic {topic!r}, schema {record.schema_name!r})")
