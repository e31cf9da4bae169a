"""What a replay reports: the outcome of each record it handled (``RecordReport``), the run's options, and its
summary (``ReplaySummary``), which is also its audit record."""

from __future__ import annotations

import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from consumer import __version__
from consumer.dlq.selection import DeadLetterEntry, ReplaySpec, group_id, replay_id
from consumer.times import format_time_ms

REPLAYED = "replayed"
WOULD_REPLAY = "would_replay"
FAILED_AGAIN = "failed_again"
CONSENT_WITHHELD = "consent_withheld"
WOULD_FAIL_AGAIN = "would_fail_again"
WOULD_WITHHOLD = "would_withhold"
SKIPPED = "skipped"
WOULD_SKIP = "would_skip"
ORIGINAL_GONE = "original_gone"


class ReplayError(Exception):
    """The replay cannot go on (Kafka refused a write, TikTok refuses the token, the registry is down); what was
    acknowledged before stays committed, and a rerun continues from there."""


@dataclass(frozen=True, slots=True)
class ReplayOptions:
    """One run of a replay: its identity (``spec``) and how this run goes."""

    spec: ReplaySpec
    rate: float = 50.0
    dry_run: bool = False
    replay_id: str | None = None
    operator: str = "unknown"
    limit: int | None = None
    previews: int = 5
    batch: int = 100

    @property
    def id(self) -> str:
        return self.replay_id or replay_id(self.spec)


@dataclass(frozen=True, slots=True)
class RecordReport:
    """What the replay did with one record (not reported for records the filters do not select)."""

    outcome: str
    entry: DeadLetterEntry
    event_ms: int | None = None
    detail: str | None = None
    event_id: str | None = None
    preview: Any = None

    def to_json(self) -> dict[str, Any]:
        entry, context = self.entry, self.entry.context
        out: dict[str, Any] = {
            "outcome": self.outcome,
            "dead_letter": {"partition": entry.position.partition, "offset": entry.position.offset},
        }
        if context is not None:
            failure = context.failure
            out |= {
                "source": {
                    "topic": context.source.topic,
                    "partition": context.source.partition,
                    "offset": context.source.offset,
                },
                "reason": failure.reason,
                "route": failure.route,
                "tiktok_code": failure.tiktok_code,
                "replay_count": entry.replay_count,
            }
        out["event_time"] = None if self.event_ms is None else format_time_ms(self.event_ms)
        for name in ("event_id", "detail", "preview"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        return out


@dataclass(slots=True)
class ReplaySummary:
    """The audit record of one run."""

    options: ReplayOptions
    started_ms: int
    finished_ms: int | None = None
    status: str = "running"
    error: str | None = None
    scanned: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    positions: dict[int, int] = field(default_factory=dict)
    audited: bool = False

    def to_json(self) -> dict[str, Any]:
        options = self.options
        return {
            "replay_id": options.id,
            "group": group_id(options.id),
            "operator": options.operator,
            "host": socket.gethostname(),
            "version": __version__,
            "started_at": format_time_ms(self.started_ms),
            "finished_at": None if self.finished_ms is None else format_time_ms(self.finished_ms),
            "status": self.status,
            "error": self.error,
            "dry_run": options.dry_run,
            **options.spec.describe(),
            "rate": options.rate,
            "limit": options.limit,
            "scanned": self.scanned,
            "counts": dict(sorted(self.counts.items())),
            "committed": {str(p): offset for p, offset in sorted(self.positions.items())},
        }


def now_ms() -> int:
    return time.time_ns() // 1_000_000
