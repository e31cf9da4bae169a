"""Back-pressure: when to pause and resume the assigned partitions, and how much to fetch. Pure.

The poll loop keeps calling ``consume`` whatever happens (so ``max.poll.interval.ms`` is never exceeded and
rebalance callbacks are served), but it stops taking new messages once the unsettled work reaches a bound: the
partitions are paused, and resumed with hysteresis once enough of that work has settled (``BackPressure``).

One message that does not settle (its dead-letter write held, its destination held) is a single unsettled message,
yet every later message of its partition stays tracked behind it until it settles. ``SpanLimit`` bounds that span
per partition: a partition holding that many tracked messages from its oldest unsettled one on is paused alone and
resumed with the same hysteresis once the span shrank; the other partitions go on. Memory therefore stays bounded
by the two bounds plus one consume batch, whatever the backlog, the length of a TikTok outage or how long one
message is stuck.
"""

from __future__ import annotations

from collections.abc import Mapping, Set
from dataclasses import dataclass
from enum import Enum

from consumer.settlement.ledger import PartitionKey


class FlowAction(Enum):
    """What the intake should do with the assigned partitions before its next consume call."""

    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True, slots=True)
class BackPressure:
    """Pause at ``high`` unsettled messages, resume at or below ``low``."""

    high: int
    low: int

    @classmethod
    def from_bound(cls, max_unsettled: int, resume_fraction: float) -> BackPressure:
        return cls(high=max_unsettled, low=int(max_unsettled * resume_fraction))

    def decide(self, unsettled: int, paused: bool) -> FlowAction | None:
        """The flow change needed now, if any."""
        if not paused and unsettled >= self.high:
            return FlowAction.PAUSE
        if paused and unsettled <= self.low:
            return FlowAction.RESUME
        return None

    def fetch_limit(self, unsettled: int, batch: int) -> int:
        """Messages to ask for in the next consume call: the batch, cut to the room left under the bound (at least
        one, because consume must still be called to serve callbacks)."""
        return max(1, min(batch, self.high - unsettled))


@dataclass(frozen=True, slots=True)
class PartitionFlow:
    """Partitions to pause and to resume for their own span, before the next consume call."""

    pause: frozenset[PartitionKey]
    resume: frozenset[PartitionKey]


@dataclass(frozen=True, slots=True)
class SpanLimit:
    """``BackPressure``'s marks applied to each partition's tracked span on its own."""

    marks: BackPressure

    @classmethod
    def from_bound(cls, max_span: int, resume_fraction: float) -> SpanLimit:
        return cls(BackPressure.from_bound(max_span, resume_fraction))

    def decide(self, spans: Mapping[PartitionKey, int], paused: Set[PartitionKey]) -> PartitionFlow | None:
        """The partitions to pause (span at the limit) and to resume (span down to the low mark, or no longer
        tracked)."""
        marks = self.marks
        pause = frozenset(
            key for key, span in spans.items() if key not in paused and marks.decide(span, False) is FlowAction.PAUSE
        )
        resume = frozenset(key for key in paused if marks.decide(spans.get(key, 0), True) is FlowAction.RESUME)
        return PartitionFlow(pause, resume) if pause or resume else None
