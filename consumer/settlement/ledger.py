"""The settlement ledger: which consumed messages are settled, per assigned partition, and what to store.

Pure bookkeeping, owned by the event loop: the rebalance handover (``consumer.settlement.handover``) tells it which
partitions are assigned and revoked, the pipeline tracks each consumed message and settles it once its outcome is
durable, and the service's poll loop takes the positions to store (``take_positions``) and hands them to the intake
with every consume call. Only partitions whose watermark moved are returned, so storing is cheap.

Tracking a message returns a ``SettleToken`` that names the message and the partition's assignment generation; only
that token settles it. A new generation starts whenever a partition's state starts over (an assignment of a
partition not tracked, or a rewind), so a late outcome of work given up at a rebalance or before an offset rewind
is ignored instead of settling a different record that now has the same offset: that work is replayed by the
partition's next owner.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from consumer.model import SourceRef
from consumer.settlement.consumed import ConsumeTimes
from consumer.settlement.watermark import PartitionWatermark

PartitionKey = tuple[str, int]


@dataclass(frozen=True, slots=True)
class SettleToken:
    """One tracked message of one assignment of its partition: what settles it, and nothing else."""

    topic: str
    partition: int
    offset: int
    generation: int


@dataclass(frozen=True, slots=True)
class Position:
    """A committable position: the next offset to read from ``topic``/``partition``."""

    topic: str
    partition: int
    offset: int


class Ledger:
    """Watermarks of the assigned partitions, the dirty set, and the total of unsettled messages."""

    __slots__ = ("_clock", "_consumed", "_dirty", "_generations", "_last_generation", "_partitions", "_unsettled")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._consumed: dict[PartitionKey, ConsumeTimes] = {}
        self._partitions: dict[PartitionKey, PartitionWatermark] = {}
        self._generations: dict[PartitionKey, int] = {}
        self._last_generation = 0
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
            if key not in self._partitions:
                self._start_over(key)

    def revoke(self, partitions: Iterable[PartitionKey]) -> list[Position]:
        """Stop tracking ``partitions``; return their final positions (to commit), for those that have one."""
        final: list[Position] = []
        for key in partitions:
            watermark = self._partitions.pop(key, None)
            self._generations.pop(key, None)
            self._consumed.pop(key, None)
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

    def track(self, ref: SourceRef) -> SettleToken | None:
        """Record a consumed message and return the token that settles it; None (and not tracked) if its partition
        is not assigned.

        An offset at or below what the partition already tracked means the consumer was rewound (an offset reset
        after log truncation): the partition starts over from there, as after a new assignment. Positions may then
        go back, which replays messages but never skips one."""
        key = (ref.topic, ref.partition)
        watermark = self._partitions.get(key)
        if watermark is None:
            return None
        if not watermark.accepts(ref.offset):
            self._unsettled -= watermark.unsettled
            watermark = self._start_over(key)
        watermark.track(ref.offset)
        self._consumed[key].note(ref.offset, self._clock())
        self._unsettled += 1
        return SettleToken(ref.topic, ref.partition, ref.offset, self._generations[key])

    def settle(self, token: SettleToken) -> bool:
        """Mark a message settled; True if ``token`` names a tracked, unsettled message of the current generation."""
        key = (token.topic, token.partition)
        watermark = self._partitions.get(key)
        if watermark is None or self._generations[key] != token.generation:
            return False
        before = watermark.position
        if not watermark.settle(token.offset):
            return False
        self._unsettled -= 1
        if watermark.position != before:
            self._dirty.add(key)
        return True

    def _start_over(self, key: PartitionKey) -> PartitionWatermark:
        """A fresh watermark for ``key`` under a new generation (tokens of the previous one no longer settle)."""
        self._last_generation += 1
        self._generations[key] = self._last_generation
        watermark = self._partitions[key] = PartitionWatermark()
        self._consumed[key] = ConsumeTimes()
        return watermark

    def spans(self) -> dict[PartitionKey, int]:
        """Per partition, the messages tracked from its oldest unsettled one on (settled ones behind it included):
        what one message that does not settle makes the partition hold (back-pressure bounds it)."""
        return {key: watermark.span for key, watermark in self._partitions.items()}

    def oldest_unsettled_ages(self) -> dict[PartitionKey, float]:
        """Per partition, seconds since its oldest unsettled message was consumed (0 when none is unsettled)."""
        now = self._clock()
        ages = {}
        for key, watermark in self._partitions.items():
            consumed_at = self._consumed[key].consumed_at(watermark.oldest_unsettled)
            ages[key] = 0.0 if consumed_at is None else now - consumed_at
        return ages

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
