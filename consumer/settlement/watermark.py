"""The watermark of one partition: the highest contiguous settled offset, as a position to commit.

Offsets are tracked in the order they are consumed (ascending, possibly with gaps: transaction markers and
compacted records leave holes) and settled in any order. The committable position is one past the last offset of
the settled prefix, so a commit never skips an unsettled message, and a crash replays at most the unsettled window.
Amortised O(1) per message: a deque of consumed offsets in order, and the set of those not settled yet (so an
offset that was never consumed, inside the range or not, is refused rather than counted).
"""

from __future__ import annotations

from collections import deque


class PartitionWatermark:
    """Consumed and settled offsets of one assigned partition."""

    __slots__ = ("_open", "_pending", "_position")

    def __init__(self) -> None:
        self._pending: deque[int] = deque()  # consumed offsets not folded into the settled prefix yet
        self._open: set[int] = set()  # the unsettled ones among them
        self._position: int | None = None

    @property
    def position(self) -> int | None:
        """The offset to commit (last settled offset of the contiguous prefix + 1), or None before any settles."""
        return self._position

    @property
    def unsettled(self) -> int:
        """Consumed offsets that are not settled yet."""
        return len(self._open)

    @property
    def span(self) -> int:
        """Tracked offsets from the oldest unsettled one on, settled or not: what one stuck message holds back."""
        return len(self._pending)

    @property
    def oldest_unsettled(self) -> int | None:
        """The oldest unsettled offset (the head of the tracked span), or None when everything is settled."""
        return self._pending[0] if self._pending else None

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
        self._open.add(offset)

    def settle(self, offset: int) -> bool:
        """Mark a tracked offset settled; True if it was unsettled. Offsets never tracked and repeated settles are
        ignored."""
        unsettled = self._open
        if offset not in unsettled:
            return False
        unsettled.discard(offset)
        pending = self._pending
        if offset != pending[0]:
            return True
        pending.popleft()
        last = offset
        while pending and pending[0] not in unsettled:
            last = pending.popleft()
        self._position = last + 1
        return True
