"""Coverage from a time window of source topics: read the messages, decode and translate them exactly as the
service does, and feed the outcomes to the accumulator.

Reading never joins the consumer group and never commits, so it is safe next to the running service. The window
is turned into offsets with ``offsets_for_times`` (the first offset at or after ``since``, and the first at or after
``until``, or the high watermark as it was when the read started), so a live topic still gives a finite read.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import replace
from typing import Any

from confluent_kafka import OFFSET_END, KafkaException, TopicPartition

from consumer.decode.avro import Decoder
from consumer.errors import ConfigError
from consumer.intake.kafka import to_source_message
from consumer.kafka.bounded import BoundedReader, PartitionRange, ReadStalledError
from consumer.kafka.client import reader_config
from consumer.mapping.settings import RouteSettings
from consumer.mapping.translator import Translator
from consumer.model import ConsentWithheld, Skipped, SourceMessage
from consumer.report.coverage import Coverage
from consumer.report.window import Window
from consumer.triage import Failed, Held, triage

METADATA_TIMEOUT_S = 15.0
IDLE_LIMIT_S = 60.0
"""Give up when no message arrives for this long while partitions are still short of their end offset."""
READ_BATCH = 500


class SourceError(Exception):
    """A topic of the window cannot be read (missing topic, broker unreachable)."""


def _check(partitions: Sequence[TopicPartition]) -> None:
    for item in partitions:
        if item.error is not None:
            raise SourceError(f"{item.topic}[{item.partition}]: {item.error}")


def _partitions(reader: BoundedReader, topics: Sequence[str]) -> list[TopicPartition]:
    found = []
    for topic in topics:
        metadata = reader.consumer.list_topics(topic, timeout=METADATA_TIMEOUT_S).topics.get(topic)
        if metadata is None or metadata.error is not None or not metadata.partitions:
            reason = metadata.error if metadata is not None and metadata.error is not None else "no partitions"
            raise SourceError(f"topic {topic} cannot be read: {reason}")
        found += [TopicPartition(topic, partition) for partition in sorted(metadata.partitions)]
    return found


def _offsets_at(reader: BoundedReader, partitions: Sequence[TopicPartition], at_ms: int) -> list[TopicPartition]:
    """The first offset of each partition whose timestamp is at or after ``at_ms`` (``OFFSET_END`` if none)."""
    result: list[TopicPartition] = reader.consumer.offsets_for_times(
        [TopicPartition(p.topic, p.partition, at_ms) for p in partitions], timeout=METADATA_TIMEOUT_S
    )
    _check(result)
    return result


def plan_ranges(reader: BoundedReader, topics: Sequence[str], window: Window) -> list[PartitionRange]:
    """The non-empty offset range of every partition of ``topics`` inside ``window``."""
    partitions = _partitions(reader, topics)
    starts = _offsets_at(reader, partitions, window.start_ms)
    ends = _offsets_at(reader, partitions, window.end_ms)
    ranges = []
    for partition, start, end in zip(partitions, starts, ends, strict=True):
        _, high = reader.watermarks(partition.topic, partition.partition)
        last = high if end.offset in (OFFSET_END, -1) or end.offset > high else end.offset
        if 0 <= start.offset < last:
            ranges.append(PartitionRange(partition.topic, partition.partition, start.offset, last))
    return ranges


def read_window(
    client: Mapping[str, Any], topics: Sequence[str], window: Window, group: str = "tiktok-relay-report"
) -> Iterator[SourceMessage]:
    """The messages of ``topics`` inside ``window``, partition by partition in offset order. ``client`` holds the
    librdkafka settings (bootstrap.servers, security); ``group`` only names the reader, offsets are never
    committed."""
    try:
        with BoundedReader(reader_config(client, group)) as reader:
            for batch in reader.read(plan_ranges(reader, topics, window), READ_BATCH, IDLE_LIMIT_S):
                yield from (to_source_message(message) for message in batch)
    except ReadStalledError as error:
        raise SourceError(str(error)) from None
    except KafkaException as error:
        raise SourceError(f"Kafka: {error}") from None


class CoverageFeeder:
    """Decodes and translates each message as the service would, and records the outcome in a ``Coverage``.

    ``now_ms`` of the translation is the message's own timestamp: the age-window decision is the one the service
    made when it read the message, not one made days later by the report. The translator's ``explain`` is used so
    that the identifiers it drops are reported here and nothing is counted in the process's metrics."""

    def __init__(
        self, coverage: Coverage, decoder: Decoder, translator: Translator, routes: Sequence[RouteSettings]
    ) -> None:
        self._coverage = coverage
        self._decoder = decoder
        self._translator = translator
        self._route_events = {route.name: route.event for route in routes}
        self._topic_routes: dict[str, list[str]] = {}
        for route in routes:
            self._topic_routes.setdefault(route.topic, []).append(route.name)

    def feed(self, message: SourceMessage) -> None:
        """Record the outcome of one source message: sent, consent-withheld, or failed (with its stage)."""
        now_ms = message.timestamp_ms if message.timestamp_ms is not None else int(time.time() * 1000)
        explanation = triage(self._decoder, self._translator.explain, message, now_ms)
        if isinstance(explanation, Held):
            raise explanation.error  # a registry outage: the report cannot be made now
        if isinstance(explanation, Failed) and isinstance(explanation.error, ConfigError):
            raise explanation.error  # the config, not the message, is wrong
        if isinstance(explanation, Failed):
            failure = explanation.failure
            route = failure.route or self._only_route(message.ref.topic)
            event = self._route_events.get(route) if route else None
            self._coverage.observe_failure(route, event, replace(failure, route=route))
            return
        result = explanation.result
        if isinstance(result, Skipped):
            return  # a skip rule says it is no conversion: nothing to cover
        if isinstance(result, ConsentWithheld):
            self._coverage.observe_withheld(result)
            return
        self._coverage.observe_outbound(result)
        for identifier, cause in explanation.dropped:
            # The translator's own counting rule: "pii" marks a property withheld for holding personal data, not
            # an identifier that failed to parse.
            if cause != "pii":
                self._coverage.observe_unparseable(result.route, result.event.event, identifier)

    def _only_route(self, topic: str) -> str | None:
        """The route of a topic that has exactly one: a decode failure belongs to it."""
        routes = self._topic_routes.get(topic, ())
        return routes[0] if len(routes) == 1 else None
