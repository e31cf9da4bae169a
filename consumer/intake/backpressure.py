"""Back-pressure: when to pause and resume the assigned partitions, and how much to fetch. Pure.

The poll loop keeps calling ``consume`` whatever happens (so ``max.poll.interval.ms`` is never exceeded and
rebalance callbacks are served), but it stops taking new messages once the unsettled work reaches a bound: the
partitions are paused, and resumed with hysteresis once enough of that work has settled. Memory therefore stays
bounded by the bound plus one consume batch, whatever the backlog or the length of a TikTok outage.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


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
