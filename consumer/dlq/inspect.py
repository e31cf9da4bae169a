"""`dlq inspect`: what a dead-letter topic holds and why, by reason, route, TikTok code and source topic.

``Summary`` tallies entries (count, oldest and newest failure time) per value of each dimension and keeps the newest
few entries of each reason as samples, and counts how many the replay record (``consumer.dlq.replayed``)
names as replayed already; ``sample_view`` shows one with its personal data masked. Both are pure. ``inspect_topic``
drives them over a bounded scan of the topic.

Masking: samples never show a raw identifier. The decoded record's personal fields (the log redaction's keys plus
customer and click identifiers and URLs) read ``[redacted]``, e-mail addresses and phone-like digit runs inside any
other text are masked, the key is masked the same way, and of the source message's own headers only the names are
shown. City, region and country are kept: they help to read a mapping failure and identify nobody on their own.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import orjson

from consumer.config import RelayConfig
from consumer.deadletter.record import original_headers
from consumer.dlq.original import OriginalEvent, OriginalReader
from consumer.dlq.replayed import Replayed, read_replayed
from consumer.dlq.scan import DeadLetterScan
from consumer.dlq.selection import DeadLetterEntry, Filters
from consumer.kafka.bounded import PartitionRange
from consumer.model import TransientError
from consumer.observability.logging import REDACTED, SENSITIVE_KEYS, mask_text
from consumer.times import format_time_ms

DIMENSIONS = ("reason", "stage", "route", "tiktok_code", "source_topic", "replay_count")
"""What the summary groups by, in display order."""

MASKED_FIELDS = SENSITIVE_KEYS | {"customer_id", "external_id", "ttclid", "ttp", "page_url", "referrer", "url"}
"""Record fields whose values a sample never shows."""

SCAN_BATCH = 500


@dataclass(slots=True)
class Tally:
    """How many entries, and the oldest and newest failure time among them."""

    count: int = 0
    oldest_ms: int | None = None
    newest_ms: int | None = None

    def add(self, failure_ms: int | None) -> None:
        self.count += 1
        if failure_ms is not None:
            self.oldest_ms = failure_ms if self.oldest_ms is None else min(self.oldest_ms, failure_ms)
            self.newest_ms = failure_ms if self.newest_ms is None else max(self.newest_ms, failure_ms)

    def to_json(self) -> dict[str, Any]:
        return {"count": self.count, "oldest": _time(self.oldest_ms), "newest": _time(self.newest_ms)}


def _time(ms: int | None) -> str | None:
    return None if ms is None else format_time_ms(ms)


def dimension_values(entry: DeadLetterEntry) -> dict[str, str | None]:
    """The entry's value in each of ``DIMENSIONS`` (None: the record has none, e.g. no TikTok code)."""
    assert entry.context is not None
    failure = entry.context.failure
    return {
        "reason": failure.reason,
        "stage": failure.stage.value,
        "route": failure.route,
        "tiktok_code": None if failure.tiktok_code is None else str(failure.tiktok_code),
        "source_topic": entry.context.source.topic,
        "replay_count": str(entry.replay_count),
    }


@dataclass(slots=True)
class Summary:
    """The tallies of a dead-letter topic (of the entries the filters select) and its samples."""

    samples_per_reason: int = 3
    total: Tally = field(default_factory=Tally)
    unreadable: int = 0
    reduced: int = 0
    replayed: int = 0  # selected entries the replay record names
    by: dict[str, dict[str | None, Tally]] = field(default_factory=lambda: {name: {} for name in DIMENSIONS})
    samples: dict[str, deque[DeadLetterEntry]] = field(default_factory=dict)

    def add(self, entry: DeadLetterEntry, replayed: bool = False) -> None:
        """Count one selected entry (an unreadable one only counts as unreadable); ``replayed``: a replay took it
        back already."""
        if entry.context is None:
            self.unreadable += 1
            return
        failure_ms = entry.failure_ms
        self.total.add(failure_ms)
        self.reduced += entry.reduction is not None
        self.replayed += replayed
        for name, value in dimension_values(entry).items():
            self.by[name].setdefault(value, Tally()).add(failure_ms)
        if self.samples_per_reason:
            reason = entry.context.failure.reason
            self.samples.setdefault(reason, deque(maxlen=self.samples_per_reason)).append(entry)

    def rows(self, dimension: str) -> list[tuple[str | None, Tally]]:
        """A dimension's values, most frequent first."""
        return sorted(self.by[dimension].items(), key=lambda item: (-item[1].count, str(item[0])))

    def sample_entries(self) -> list[DeadLetterEntry]:
        """The samples, newest last within each reason, reasons by frequency."""
        order = [reason for reason, _ in self.rows("reason")]
        return [entry for reason in order for entry in self.samples.get(str(reason), ())]


# -- masking -----------------------------------------------------------------------------------------------------


def masked(value: Any) -> Any:
    """A JSON-ready copy of a decoded record with its personal data masked (see the module docstring)."""
    if isinstance(value, Mapping):
        return {
            str(key): (REDACTED if item is not None and str(key).lower() in MASKED_FIELDS else masked(item))
            for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [masked(item) for item in value]
    return _masked_scalar(value)


def _masked_scalar(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return value


def masked_key(key: bytes | None) -> str | None:
    return None if key is None else mask_text(key.decode("utf-8", errors="replace"))


def sample_view(entry: DeadLetterEntry, original: OriginalEvent | None, prefix: str) -> dict[str, Any]:
    """One sample as JSON-ready data: where it is, why it failed, and the record as the current config reads it."""
    assert entry.context is not None
    context, failure = entry.context, entry.context.failure
    view: dict[str, Any] = {
        "dead_letter": {"partition": entry.position.partition, "offset": entry.position.offset},
        "source": {
            "topic": context.source.topic,
            "partition": context.source.partition,
            "offset": context.source.offset,
        },
        "stage": failure.stage.value,
        "reason": failure.reason,
        "route": failure.route,
        "error": f"{failure.exception_class}: {failure.message}",
        "attempts": failure.attempts,
        "first_failure": _time(failure.first_failure_ms),
        "last_failure": _time(failure.last_failure_ms),
        "http_status": failure.http_status,
        "tiktok_code": failure.tiktok_code,
        "tiktok_message": failure.tiktok_message,
        "request_id": failure.request_id,
        "service_version": context.service_version,
        "replay_count": entry.replay_count,
        "key": masked_key(entry.key),
        "headers": [name for name, _ in original_headers(entry.headers, prefix)],
    }
    if entry.reduction is not None:
        reduced = entry.reduction
        view["reduced"] = {
            "omitted": list(reduced.omitted),
            "because": reduced.because,
            "value_size": reduced.value_size,
            "value_sha256": reduced.value_sha256,
            "key_size": reduced.key_size,
        }
    if original is not None:
        view["event_time"] = _time(original.event_ms)
        view["record"] = None if original.record is None else masked(dict(original.record.value))
        view["schema"] = None if original.record is None else original.record.schema_name
        view["now"] = original.summary
    return view


# -- rendering ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Inspection:
    """The result of ``inspect_topic``."""

    topic: str
    ranges: list[PartitionRange]
    filters: Filters
    scanned: int
    summary: Summary
    samples: list[dict[str, Any]]

    def to_json(self) -> dict[str, Any]:
        summary = self.summary
        return {
            "topic": self.topic,
            "partitions": [{"partition": r.partition, "start": r.start, "end": r.end} for r in self.ranges],
            "filters": self.filters.describe(),
            "scanned": self.scanned,
            "records": summary.total.count,
            "unreadable": summary.unreadable,
            "reduced": summary.reduced,
            "replayed": summary.replayed,
            "not_replayed": summary.total.count - summary.replayed,
            "oldest_failure": _time(summary.total.oldest_ms),
            "newest_failure": _time(summary.total.newest_ms),
            "by": {
                name: [{"value": value, **tally.to_json()} for value, tally in summary.rows(name)]
                for name in DIMENSIONS
            },
            "samples": self.samples,
        }

    def to_text(self) -> str:
        summary = self.summary
        lines = [
            f"dead-letter topic {self.topic}: {summary.total.count} records"
            + (f" selected of {self.scanned} scanned" if self.filters.describe() else "")
            + (f", {summary.unreadable} unreadable" if summary.unreadable else "")
            + (
                f", {summary.reduced} reduced (value left out; replay reads it from the source)"
                if summary.reduced
                else ""
            ),
            f"  failed between {_time(summary.total.oldest_ms) or '-'} and {_time(summary.total.newest_ms) or '-'}",
            f"  replayed already: {summary.replayed}; not replayed yet: {summary.total.count - summary.replayed}",
        ]
        for name in DIMENSIONS:
            lines.append("")
            lines.append(f"  {'by ' + name.replace('_', ' '):<30} {'count':>7}  {'oldest failure':<25} newest failure")
            for value, tally in summary.rows(name):
                label = "-" if value is None else value
                oldest, newest = _time(tally.oldest_ms) or "-", _time(tally.newest_ms) or "-"
                lines.append(f"    {label:<28} {tally.count:>7}  {oldest:<25} {newest}")
        if self.samples:
            lines += ["", "  samples (newest per reason; personal data masked)"]
            lines += [_sample_text(sample) for sample in self.samples]
        return "\n".join(lines)


def _sample_text(sample: Mapping[str, Any]) -> str:
    dead, source = sample["dead_letter"], sample["source"]
    code = "" if sample["tiktok_code"] is None else f" code {sample['tiktok_code']}"
    lines = [
        f"  - partition {dead['partition']} offset {dead['offset']} <- {source['topic']}[{source['partition']}]"
        f"@{source['offset']}: {sample['reason']} ({sample['stage']}){code} route {sample['route'] or '-'}"
        f" failed {sample['last_failure'] or '-'} attempts {sample['attempts']} replays {sample['replay_count']}",
        f"    {sample['error']}",
    ]
    if "reduced" in sample:
        reduced = sample["reduced"]
        lines.append(
            f"    reduced dead letter: {', '.join(reduced['omitted'])} left out ({reduced['because']}); original value"
            f" {reduced['value_size']} bytes, sha256 {reduced['value_sha256']}, in the source topic while retained"
        )
    if sample.get("tiktok_message"):
        lines.append(f"    TikTok: {sample['tiktok_message']} (request_id {sample['request_id']})")
    if "now" in sample:
        lines.append(f"    now: {sample['now']}; event time {sample['event_time'] or '-'}")
        if sample["record"] is not None:
            lines.append(f"    record ({sample['schema']}): {orjson.dumps(sample['record']).decode()}")
    return "\n".join(lines)


# -- the scan ----------------------------------------------------------------------------------------------------


def summarise(
    entries: Iterable[DeadLetterEntry],
    filters: Filters,
    event_ms: Callable[[DeadLetterEntry], int | None],
    samples_per_reason: int,
    replayed: Replayed = frozenset(),
) -> tuple[int, Summary]:
    """Tally the entries the filters select; ``event_ms`` is asked only when an event-time filter is set;
    ``replayed``: the dead-letter positions the replay record names. Returns the number of entries scanned and the
    summary."""
    summary = Summary(samples_per_reason)
    scanned = 0
    for entry in entries:
        scanned += 1
        if entry.context is not None and not filters.selects_context(entry.context, entry.failure_ms):
            continue
        if entry.context is not None and filters.on_event_time and not filters.selects_event_time(event_ms(entry)):
            continue
        if entry.context is None and filters.describe():
            continue  # a filter names something an unreadable record does not have
        summary.add(entry, (entry.position.partition, entry.position.offset) in replayed)
    return scanned, summary


def inspect_topic(
    config: RelayConfig, reader: OriginalReader, topic: str, filters: Filters, samples_per_reason: int = 3
) -> Inspection:
    """Scan ``topic`` from its beginning to its current end (nothing is committed) and summarise it."""
    prefix = config.deadletter.header_prefix

    def read(entry: DeadLetterEntry) -> OriginalEvent | None:
        if entry.reduction is not None:
            return None  # its value is in the source topic, not here: the sample says so
        try:
            return reader.read(entry.original(prefix))
        except TransientError:
            return None  # the registry is down: the sample is shown without its record

    def event_ms(entry: DeadLetterEntry) -> int | None:
        original = read(entry)
        return None if original is None else original.event_ms

    replayed = read_replayed(config.kafka, config.deadletter.replay_record_topic, topic)
    with DeadLetterScan(config.kafka, topic, prefix) as scan:
        entries = (entry for batch in scan.batches(SCAN_BATCH) for entry in batch)
        scanned, summary = summarise(entries, filters, event_ms, samples_per_reason, replayed)
        ranges = scan.ranges
    samples = [sample_view(entry, read(entry), prefix) for entry in summary.sample_entries()]
    return Inspection(topic, ranges, filters, scanned, summary, samples)
