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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from consumer.model import SourceRef
from consumer.settlement.consumed import ConsumeTimes
from consumer.settlement.watermark import PartitionWatermark

PartitionKey = tuple[str, int]


class SettleToken:
    """One tracked message of one assignment of its partition: what settles it, and nothing else. A plain class
    with slots: one is made per consumed message, and a frozen dataclass costs several times more to build."""

    __slots__ = ("generation", "offset", "partition", "topic")

    def __init__(self, topic: str, partition: int, offset: int, generation: int) -> None:
        self.topic = topic
        self.partition = partition
        self.offset = offset
        self.generation = generation

    def __repr__(self) -> str:
        return f"SettleToken({self.topic!r}, {self.partition}, {self.offset}, {self.generation})"


class _Partition:
    """What the ledger keeps per assigned partition: one lookup per tracked or settled message finds it all."""

    __slots__ = ("consumed", "generation", "watermark")

    def __init__(self, generation: int) -> None:
        self.generation = generation
        self.watermark = PartitionWatermark()
        self.consumed = ConsumeTimes()


@dataclass(frozen=True, slots=True)
class Position:
    """A committable position: the next offset to read from ``topic``/``partition``."""

    topic: str
    partition: int
    offset: int


class Ledger:
    """Watermarks of the assigned partitions, the dirty set, and the total of unsettled messages."""

    __slots__ = ("_clock", "_dirty", "_last_generation", "_partitions", "_unsettled")

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._partitions: dict[PartitionKey, _Partition] = {}
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
            state = self._partitions.pop(key, None)
            self._dirty.discard(key)
            if state is None:
                continue
            watermark = state.watermark
            self._unsettled -= watermark.unsettled
            if watermark.position is not None:
                final.append(Position(key[0], key[1], watermark.position))
        return final

    def unsettled_in(self, partitions: Iterable[PartitionKey]) -> int:
        """Unsettled messages of the given partitions (what a revoke waits for)."""
        return sum(s.watermark.unsettled for key in partitions if (s := self._partitions.get(key)) is not None)

    def track(self, ref: SourceRef) -> SettleToken | None:
        """Record a consumed message and return the token that settles it; None (and not tracked) if its partition
        is not assigned.

        An offset at or below what the partition already tracked means the consumer was rewound (an offset reset
        after log truncation): the partition starts over from there, as after a new assignment. Positions may then
        go back, which replays messages but never skips one."""
        return self.track_all((ref,))[0]

    def track_all(self, refs: Sequence[SourceRef]) -> list[SettleToken | None]:
        """``track`` each of a consumed batch's messages, in order: their tokens. Hot path: the clock is read once
        for the batch, not per message (consume times are kept to about a second)."""
        now = self._clock()
        partitions = self._partitions
        tokens: list[SettleToken | None] = []
        tracked = 0
        for ref in refs:
            key = (ref.topic, ref.partition)
            state = partitions.get(key)
            if state is None:
                tokens.append(None)
                continue
            offset = ref.offset
            if not state.watermark.accepts(offset):
                self._unsettled -= state.watermark.unsettled
                state = self._start_over(key)
            state.watermark.track(offset)
            state.consumed.note(offset, now)
            tokens.append(SettleToken(ref.topic, ref.partition, offset, state.generation))
            tracked += 1
        self._unsettled += tracked
        return tokens

    def settle(self, token: SettleToken) -> bool:
        """Mark a message settled; True if ``token`` names a tracked, unsettled message of the current generation."""
        key = (token.topic, token.partition)
        state = self._partitions.get(key)
        if state is None or state.generation != token.generation:
            return False
        watermark = state.watermark
        before = watermark.position
        if not watermark.settle(token.offset):
            return False
        self._unsettled -= 1
        if watermark.position != before:
            self._dirty.add(key)
        return True

    def _start_over(self, key: PartitionKey) -> _Partition:
        """A fresh state for ``key`` under a new generation (tokens of the previous one no longer settle)."""
        self._last_generation += 1
        state = self._partitions[key] = _Partition(self._last_generation)
        return state

    def spans(self) -> dict[PartitionKey, int]:
        """Per partition, the messages tracked from its oldest unsettled one on (settled ones behind it included):
        what one message that does not settle makes the partition hold (back-pressure bounds it)."""
        return {key: state.watermark.span for key, state in self._partitions.items()}

    def oldest_unsettled_ages(self) -> dict[PartitionKey, float]:
        """Per partition, seconds since its oldest unsettled message was consumed (0 when none is unsettled)."""
        now = self._clock()
        ages = {}
        for key, state in self._partitions.items():
            consumed_at = state.consumed.consumed_at(state.watermark.oldest_unsettled)
            ages[key] = 0.0 if consumed_at is None else now - consumed_at
        return ages

    def take_positions(self) -> list[Position]:
        """Positions of the partitions whose watermark advanced since the last call."""
        positions = []
        for key in self._dirty:
            position = self._partitions[key].watermark.position
            if position is not None:
                positions.append(Position(key[0], key[1], position))
        self._dirty.clear()
        return positions

    def positions(self) -> list[Position]:
        """Every tracked partition's current position (for the final commit at shutdown)."""
        return [
            Position(key[0], key[1], state.watermark.position)
            for key, state in self._partitions.items()
            if state.watermark.position is not None
        ]
