"""When the offsets of one partition were consumed, to about a second, at a cost that grows with time, not messages.

The age of the oldest unsettled message of a partition is how long its commits have waited: the signal of a stuck
partition. Keeping a time per message would cost memory per message; instead a mark ``(first offset, time)`` is
kept per ``resolution_s`` interval in which messages arrived, and marks behind the oldest unsettled offset are
dropped as it moves on. Pure; the caller passes the clock's readings.
"""

from __future__ import annotations

from collections import deque

RESOLUTION_S = 1.0


class ConsumeTimes:
    """Consume-time marks of one partition (offsets ascending, as tracked)."""

    __slots__ = ("_marks", "_resolution_s")

    def __init__(self, resolution_s: float = RESOLUTION_S) -> None:
        self._marks: deque[tuple[int, float]] = deque()
        self._resolution_s = resolution_s

    def note(self, offset: int, now: float) -> None:
        """``offset`` was consumed at ``now``; a new mark only when the last one is ``resolution_s`` old."""
        marks = self._marks
        if not marks or now - marks[-1][1] >= self._resolution_s:
            marks.append((offset, now))

    def consumed_at(self, offset: int | None) -> float | None:
        """When ``offset`` was consumed (the mark at or before it; at most ``resolution_s`` early), dropping the
        marks before it: ``offset`` is the partition's oldest unsettled one, which only moves forward. None when
        ``offset`` is None (nothing unsettled) or not marked."""
        marks = self._marks
        if offset is None:
            # Nothing unsettled: keep only the newest mark, the one later offsets may still fall under.
            while len(marks) > 1:
                marks.popleft()
            return None
        while len(marks) > 1 and marks[1][0] <= offset:
            marks.popleft()
        return marks[0][1] if marks and marks[0][0] <= offset else None
