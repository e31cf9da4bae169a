"""Which dead-letter records a replay takes, and what it does with each. Pure: no Kafka, no clock.

A dead-letter record is read into a ``DeadLetterEntry`` (its position in the dead-letter topic, the original bytes and
the context headers parsed by ``consumer.deadletter.record``). ``Filters`` says which entries an operator asked for;
``decide`` turns one entry into a ``Verdict``: not selected, unreadable, refused by the loop guard, past the age
window, or to replay. ``replay_id`` names a replay by everything that decides which records it takes, so a rerun of
the same replay finds the position the last run committed.

The loop guard counts replays in one header of the source message, ``<prefix>replay.count``. A replay writes it (the
old value plus one) on what it re-produces; the service keeps a source message's headers byte-for-byte in a new
dead-letter record, so a replayed message that fails again comes back to the dead-letter topic with its count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any, Literal

import orjson

from consumer.deadletter.record import (
    DeadLetterContext,
    NotADeadLetterRecordError,
    Reduction,
    original_headers,
    parse_context,
    reduction,
    restore_headers,
)
from consumer.model import Header, SourceMessage, SourceRef
from consumer.times import format_time_ms

REPLAY_COUNT = "replay.count"
"""Header (under the service's prefix) counting how many times a message was replayed from a dead-letter topic."""

GROUP_PREFIX = "tiktok-relay-replay-"
"""Consumer group of a replay: this prefix and the replay id. Its committed offsets are the replay's position."""

Target = Literal["source", "tiktok"]


@dataclass(frozen=True, slots=True)
class DeadLetterEntry:
    """One record of a dead-letter topic: where it is, its bytes, and its context (None when the headers are not a
    dead-letter context this service can read; ``problem`` then says why)."""

    position: SourceRef
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...]
    timestamp_ms: int | None
    context: DeadLetterContext | None
    replay_count: int = 0
    problem: str | None = None
    reduction: Reduction | None = None
    """Set for a reduced dead letter: what it left out (the original is read back from the source topic)."""

    @property
    def failure_ms(self) -> int | None:
        """When the message last failed (the last failure header, else the first)."""
        if self.context is None:
            return None
        failure = self.context.failure
        return failure.last_failure_ms if failure.last_failure_ms is not None else failure.first_failure_ms

    def restored(self, original: SourceMessage, prefix: str) -> DeadLetterEntry:
        """This entry with the left-out parts of a reduced dead letter put back from ``original`` (its source
        message, read back): the context headers stay, so the entry reads as if it had been dead-lettered whole."""
        headers = tuple(restore_headers(self.headers, original.headers, prefix))
        return replace(self, key=original.key, value=original.value, headers=headers, reduction=None)

    def original(self, prefix: str) -> SourceMessage:
        """The source message as the service consumed it: the original ref, bytes and headers."""
        assert self.context is not None, "an unreadable entry has no original"
        return SourceMessage(
            self.context.source, self.key, self.value, tuple(original_headers(self.headers, prefix)), self.timestamp_ms
        )


def read_entry(message: SourceMessage, prefix: str) -> DeadLetterEntry:
    """Parse one dead-letter record (``message.ref`` is its place in the dead-letter topic); a record without a
    readable context becomes an entry with a ``problem``."""
    ref, key, value, headers, timestamp_ms = (
        message.ref,
        message.key,
        message.value,
        message.headers,
        message.timestamp_ms,
    )
    try:
        context = parse_context(headers, prefix)
    except NotADeadLetterRecordError as error:
        return DeadLetterEntry(ref, key, value, headers, timestamp_ms, None, problem=str(error))
    count = replay_count(original_headers(headers, prefix), prefix)
    return DeadLetterEntry(ref, key, value, headers, timestamp_ms, context, count, reduction=reduction(headers, prefix))


# -- the replay counter ------------------------------------------------------------------------------------------

UNREADABLE_COUNT = 2**31 - 1
"""What a malformed replay counter counts as: more than any limit."""


def replay_count(headers: Sequence[Header], prefix: str) -> int:
    """How many times a source message with ``headers`` was replayed (the last counter header wins; none: 0).

    A counter that is not a non-negative integer reads as unlimited: the loop guard fails closed."""
    name = prefix + REPLAY_COUNT
    values = [value for key, value in headers if key == name]
    if not values:
        return 0
    text = (values[-1] or b"").decode("ascii", errors="replace")
    return int(text) if text.isdigit() else UNREADABLE_COUNT


def replayed_headers(headers: Sequence[Header], prefix: str, count: int) -> list[Header]:
    """A source message's own headers for a replay: unchanged, except the replay counter, set to ``count`` last."""
    name = prefix + REPLAY_COUNT
    return [*(item for item in headers if item[0] != name), (name, str(count).encode())]


# -- filters -----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Filters:
    """What an operator selects. Empty sets and ``None`` bounds select everything; several values of one filter
    select any of them; different filters must all hold. Time ranges include ``since`` and exclude ``until`` (epoch
    ms); source offsets include both ends. A record lacking what a filter names (no route, no TikTok code, an event
    time that cannot be read) is not selected by that filter."""

    reasons: frozenset[str] = frozenset()
    routes: frozenset[str] = frozenset()
    codes: frozenset[int] = frozenset()
    source_topics: frozenset[str] = frozenset()
    source_partitions: frozenset[int] = frozenset()
    source_offset_from: int | None = None
    source_offset_to: int | None = None
    failed_since_ms: int | None = None
    failed_until_ms: int | None = None
    event_since_ms: int | None = None
    event_until_ms: int | None = None

    @property
    def on_event_time(self) -> bool:
        """Whether the event time (read from the decoded record) takes part."""
        return self.event_since_ms is not None or self.event_until_ms is not None

    def selects_context(self, context: DeadLetterContext, failure_ms: int | None) -> bool:
        """Every filter but the event time, read from the dead-letter headers alone."""
        failure, source = context.failure, context.source
        return (
            _among(failure.reason, self.reasons)
            and _among(failure.route, self.routes)
            and _among(failure.tiktok_code, self.codes)
            and _among(source.topic, self.source_topics)
            and _among(source.partition, self.source_partitions)
            and _within(source.offset, self.source_offset_from, _after(self.source_offset_to))
            and _within(failure_ms, self.failed_since_ms, self.failed_until_ms)
        )

    def selects_event_time(self, event_ms: int | None) -> bool:
        return _within(event_ms, self.event_since_ms, self.event_until_ms)

    def describe(self) -> dict[str, Any]:
        """The filters that are set, as JSON-ready data in a stable order (for the replay id and the audit)."""
        out: dict[str, Any] = {}
        for name in ("reasons", "routes", "codes", "source_topics", "source_partitions"):
            values = getattr(self, name)
            if values:
                out[name] = sorted(values)
        for name in ("source_offset_from", "source_offset_to"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        for name in ("failed_since_ms", "failed_until_ms", "event_since_ms", "event_until_ms"):
            value = getattr(self, name)
            if value is not None:
                out[name.removesuffix("_ms")] = format_time_ms(value)
        return out


def _among(value: Any, wanted: frozenset[Any]) -> bool:
    return not wanted or value in wanted


def _after(inclusive_end: int | None) -> int | None:
    return None if inclusive_end is None else inclusive_end + 1


def _within(value: int | None, start: int | None, end: int | None) -> bool:
    if start is None and end is None:
        return True
    if value is None:
        return False
    return (start is None or value >= start) and (end is None or value < end)


# -- decisions ---------------------------------------------------------------------------------------------------


class Verdict(StrEnum):
    """What a replay does with one dead-letter record (the outcome names of the summary, before sending)."""

    NOT_SELECTED = "not_selected"
    ALREADY_REPLAYED = "skipped_already_replayed"
    UNREADABLE = "skipped_unreadable"
    LOOP_GUARD = "refused_loop_guard"
    TOO_OLD = "skipped_too_old"
    REPLAY = "replay"


@dataclass(frozen=True, slots=True)
class Rules:
    """The replay's limits: the loop guard (records replayed ``max_replays`` times already are refused), the event
    age window (``max_event_age_ms``, the service's ``policy.max_event_age``) and whether to replay past it, and
    whether records an earlier replay took back (the replay record) are replayed again."""

    max_replays: int
    max_event_age_ms: int
    force_age: bool = False
    again: bool = False


def needs_event_time(entry: DeadLetterEntry, filters: Filters) -> bool:
    """Whether ``decide`` needs the entry's event time: only for entries the headers already select."""
    return entry.context is not None and filters.selects_context(entry.context, entry.failure_ms)


def decide(
    entry: DeadLetterEntry,
    filters: Filters,
    rules: Rules,
    event_ms: int | None,
    now_ms: int,
    *,
    already_replayed: bool = False,
) -> Verdict:
    """The verdict on one entry. ``event_ms`` is the event time read from the decoded record (None when it cannot
    be read: then the age window is left to the service, which checks it again); ``already_replayed``: the replay
    record names the entry."""
    if entry.context is None:
        return Verdict.UNREADABLE
    if not filters.selects_context(entry.context, entry.failure_ms) or not filters.selects_event_time(event_ms):
        return Verdict.NOT_SELECTED
    if already_replayed and not rules.again:
        return Verdict.ALREADY_REPLAYED
    if entry.replay_count >= rules.max_replays:
        return Verdict.LOOP_GUARD
    if event_ms is not None and now_ms - event_ms > rules.max_event_age_ms and not rules.force_age:
        return Verdict.TOO_OLD
    return Verdict.REPLAY


# -- identity ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ReplaySpec:
    """Everything that decides which records a replay takes, and where they go: the replay's identity."""

    topic: str
    target: Target
    filters: Filters = field(default_factory=Filters)
    max_replays: int = 3
    force_age: bool = False
    again: bool = False

    def describe(self) -> dict[str, Any]:
        described: dict[str, Any] = {
            "topic": self.topic,
            "to": self.target,
            "filters": self.filters.describe(),
            "max_replays": self.max_replays,
            "force_age": self.force_age,
        }
        if self.again:  # only when set: the ids (consumer groups) of replays from before the flag stay as they were
            described["again"] = True
        return described


def replay_id(spec: ReplaySpec) -> str:
    """A stable id for ``spec``: the same topic, target, filters and limits always give the same id."""
    canonical = orjson.dumps(spec.describe(), option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(canonical).hexdigest()[:16]


def group_id(replay: str) -> str:
    """The consumer group that keeps the position of replay ``replay``."""
    return GROUP_PREFIX + replay
