"""The watermark of one partition: the highest contiguous settled offset, as a position to commit.

Offsets are tracked in the order they are consumed (ascending, possibly with gaps: transaction markers and
compacted records leave holes) and settled in any order. The committable position is one past the last offset of
the settled prefix, so a commit never skips an unsettled message, and a crash replays at most the unsettled window.
Amortised O(1) per message: a deque of consumed offsets and a set of settled ones not yet folded into the prefix.
"""

from __future__ import annotations

from collections import deque


class PartitionWatermark:
    """Consumed and settled offsets of one assigned partition."""

    __slots__ = ("_pending", "_position", "_settled")

    def __init__(self) -> None:
        self._pending: deque[int] = deque()
        self._settled: set[int] = set()
        self._position: int | None = None

    @property
    def position(self) -> int | None:
        """The offset to commit (last settled offset of the contiguous prefix + 1), or None before any settles."""
        return self._position

    @property
    def unsettled(self) -> int:
        """Consumed offsets that are not settled yet."""
        return len(self._pending) - len(self._settled)

    def accepts(self, offset: int) -> bool:
        """True if ``offset`` continues the partition (it is past everything tracked or settled so far)."""
        if self._pending:
            return offset > self._pending[-1]
        return self._position is None or offset >= self._position

    def track(self, offset: int) -> None:
        """Record a consumed offset; offsets must arrive in ascending order (as Kafka delivers them)."""
        pending = self._pending
        if pending and offset <= pending[-1]:
            raise ValueError(f"offset {offset} tracked out of order (last {pending[-1]})")
        if not pending and self._position is not None and offset < self._position:
            raise ValueError(f"offset {offset} is below the settled position {self._position}")
        pending.append(offset)

    def settle(self, offset: int) -> bool:
        """Mark a tracked offset settled; True if it was unsettled. Unknown or repeated offsets are ignored (a late
        outcome of work given up at a rebalance)."""
        pending = self._pending
        if not pending or offset < pending[0] or offset > pending[-1] or offset in self._settled:
            return False
        if offset != pending[0]:
            self._settled.add(offset)
            return True
        pending.popleft()
        last = offset
        settled = self._settled
        while pending and pending[0] in settled:
            last = pending.popleft()
            settled.discard(last)
        self._position = last + 1
        return True
