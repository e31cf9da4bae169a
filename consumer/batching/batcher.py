"""Micro-batch accumulation per destination, pure: no clock of its own, no I/O, no asyncio.

A batch closes when it holds ``max_items`` items, when the next item would push it past ``max_bytes``, or when it
has lingered ``linger_s`` since its first item (the caller asks for ``due`` batches at ``next_deadline``). An item
larger than ``max_bytes`` on its own travels alone rather than being refused here: whether the server takes it is
the server's call. The caller passes its clock (read only when an item opens a batch) and each item's encoded size.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


@dataclass(slots=True)
class Batch(Generic[K, T]):
    """Items bound for one key, in arrival order; ``size`` is the sum of their sizes."""

    key: K
    items: list[T]
    size: int
    opened_at: float


class Batcher(Generic[K, T]):
    """Open batches by key. Open batches are kept in opening order, so the first is always the next to linger out."""

    __slots__ = ("_linger_s", "_max_bytes", "_max_items", "_open", "_pending")

    def __init__(self, max_items: int, max_bytes: int, linger_s: float) -> None:
        if max_items < 1 or max_bytes < 1 or linger_s < 0:
            raise ValueError("max_items and max_bytes must be positive and linger_s not negative")
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._linger_s = linger_s
        self._open: dict[K, Batch[K, T]] = {}
        self._pending = 0

    @property
    def pending(self) -> int:
        """Items waiting in open batches."""
        return self._pending

    def add(self, key: K, item: T, size: int, clock: Callable[[], float]) -> Sequence[Batch[K, T]]:
        """Add ``item`` (``size`` bytes) under ``key``; return the batches this closed (usually none). ``clock`` is
        read only when the item opens a batch: most items join an open one, and this runs per event."""
        closed: tuple[Batch[K, T], ...] = ()
        batch = self._open.get(key)
        if batch is not None and batch.size + size > self._max_bytes:
            closed = (self._close(batch),)
            batch = None
        if batch is None:
            batch = Batch(key, [item], size, clock())
            self._open[key] = batch
        else:
            batch.items.append(item)
            batch.size += size
        self._pending += 1
        if len(batch.items) >= self._max_items or batch.size >= self._max_bytes:
            closed = (*closed, self._close(batch))
        return closed

    def next_deadline(self) -> float | None:
        """When the oldest open batch lingers out, or None when nothing is open."""
        for batch in self._open.values():
            return batch.opened_at + self._linger_s
        return None

    def due(self, now: float) -> list[Batch[K, T]]:
        """Close and return every batch that has lingered ``linger_s`` by ``now``."""
        ready: list[Batch[K, T]] = []
        for batch in list(self._open.values()):
            if batch.opened_at + self._linger_s > now:
                break
            ready.append(self._close(batch))
        return ready

    def drain(self) -> list[Batch[K, T]]:
        """Close and return every open batch, lingering or not (flush, shutdown)."""
        return [self._close(batch) for batch in list(self._open.values())]

    def _close(self, batch: Batch[K, T]) -> Batch[K, T]:
        del self._open[batch.key]
        self._pending -= len(batch.items)
        return batch
