"""The settlement ledger: which consumed messages are settled, per assigned partition, and what to store.

Pure bookkeeping, owned by the event loop: the intake tells it about assignments and consumed messages, the pipeline
settles each message once its outcome is durable, and the intake asks it for the positions to store
(``take_positions``) before every consume call. Only partitions whose watermark moved are returned, so storing is
cheap. A settle for a partition that is no longer assigned is ignored: that work was given up at a rebalance and
will be replayed by the partition's next owner.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from consumer.model import SourceRef
from consumer.settlement.watermark import PartitionWatermark

PartitionKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class Position:
    """A committable position: the next offset to read from ``topic``/``partition``."""

    topic: str
    partition: int
    offset: int


class Ledger:
    """Watermarks of the assigned partitions, the dirty set, and the total of unsettled messages."""

    __slots__ = ("_dirty", "_partitions", "_unsettled")

    def __init__(self) -> None:
        self._partitions: dict[PartitionKey, PartitionWatermark] = {}
        self._dirty: set[PartitionKey] = set()
        self._unsettled = 0

    @property
    def unsettled(self) -> int:
        """Messages consumed from assigned partitions and not settled yet."""
        return self._unsettled

    @property
    def partitions(self) -> list[PartitionKey]:
        """The partitions currently tracked (the assignment as the ledger knows it)."""
        return list(self._partitions)

    def assign(self, partitions: Iterable[PartitionKey]) -> None:
        """Start tracking newly assigned partitions (already tracked ones keep their state)."""
        for key in partitions:
            self._partitions.setdefault(key, PartitionWatermark())

    def revoke(self, partitions: Iterable[PartitionKey]) -> list[Position]:
        """Stop tracking ``partitions``; return their final positions (to commit), for those that have one."""
        final: list[Position] = []
        for key in partitions:
            watermark = self._partitions.pop(key, None)
            self._dirty.discard(key)
            if watermark is None:
                continue
            self._unsettled -= watermark.unsettled
            if watermark.position is not None:
                final.append(Position(key[0], key[1], watermark.position))
        return final

    def unsettled_in(self, partitions: Iterable[PartitionKey]) -> int:
        """Unsettled messages of the given partitions (what a revoke waits for)."""
        return sum(w.unsettled for key in partitions if (w := self._partitions.get(key)) is not None)

    def track(self, ref: SourceRef) -> bool:
        """Record a consumed message; False (and not tracked) if its partition is not assigned.

        An offset at or below what the partition already tracked means the consumer was rewound (an offset reset
        after log truncation): the partition starts over from there, as after a new assignment. Positions may then
        go back, which replays messages but never skips one."""
        key = (ref.topic, ref.partition)
        watermark = self._partitions.get(key)
        if watermark is None:
            return False
        if not watermark.accepts(ref.offset):
            self._unsettled -= watermark.unsettled
            watermark = self._partitions[key] = PartitionWatermark()
        watermark.track(ref.offset)
        self._unsettled += 1
        return True

    def settle(self, ref: SourceRef) -> bool:
        """Mark a message settled; True if it was tracked and unsettled."""
        key = (ref.topic, ref.partition)
        watermark = self._partitions.get(key)
        if watermark is None:
            return False
        before = watermark.position
        if not watermark.settle(ref.offset):
            return False
        self._unsettled -= 1
        if watermark.position != before:
            self._dirty.add(key)
        return True

    def take_positions(self) -> list[Position]:
        """Positions of the partitions whose watermark advanced since the last call."""
        positions = []
        for key in self._dirty:
            position = self._partitions[key].position
            if position is not None:
                positions.append(Position(key[0], key[1], position))
        self._dirty.clear()
        return positions

    def positions(self) -> list[Position]:
        """Every tracked partition's current position (for the final commit at shutdown)."""
        return [Position(k[0], k[1], w.position) for k, w in self._partitions.items() if w.position is not None]
