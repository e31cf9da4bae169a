"""The pure micro-batch accumulator: count cap, byte cap, linger, keys kept apart, flush."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from consumer.batching.batcher import Batcher


def make(max_items: int = 3, max_bytes: int = 100, linger_s: float = 1.0) -> Batcher[str, int]:
    return Batcher(max_items, max_bytes, linger_s)


def at(now: float) -> Callable[[], float]:
    """A clock that reads ``now``."""
    return lambda: now


def test_the_clock_is_read_only_when_an_item_opens_a_batch() -> None:
    """An item joining an open batch does not read the clock (per-event hot path); one opening a batch does, and
    the batch lingers from that reading."""
    readings: list[float] = []

    def clock() -> float:
        readings.append(float(len(readings)))
        return readings[-1]

    batcher = make(max_items=2)
    batcher.add("a", 1, 1, clock)
    batcher.add("b", 2, 1, clock)
    (batch,) = batcher.add("a", 3, 1, clock)  # joins a, closing it
    batcher.add("a", 4, 1, clock)  # opens a again
    assert readings == [0.0, 1.0, 2.0]
    assert batch.opened_at == 0.0
    assert batcher.next_deadline() == 1.0 + 1.0  # b, the oldest open batch, opened at the second reading


def test_batch_closes_at_max_items() -> None:
    """The item that reaches max_items closes the batch, which is returned by that add."""
    batcher = make(max_items=3)
    assert batcher.add("a", 1, 1, at(0.0)) == ()
    assert batcher.add("a", 2, 1, at(0.0)) == ()
    (batch,) = batcher.add("a", 3, 1, at(0.0))
    assert (batch.key, batch.items, batch.size) == ("a", [1, 2, 3], 3)
    assert batcher.pending == 0


def test_item_that_would_exceed_the_byte_cap_starts_a_new_batch() -> None:
    """A batch never exceeds max_bytes: the overflowing item opens the next batch."""
    batcher = make(max_items=10, max_bytes=100)
    batcher.add("a", 1, 60, at(0.0))
    (batch,) = batcher.add("a", 2, 50, at(0.0))
    assert (batch.items, batch.size) == ([1], 60)
    assert batcher.pending == 1


def test_batch_reaching_the_byte_cap_exactly_closes() -> None:
    """A batch that is exactly full is sent at once rather than waiting for its linger."""
    batcher = make(max_items=10, max_bytes=100)
    batcher.add("a", 1, 40, at(0.0))
    (batch,) = batcher.add("a", 2, 60, at(0.0))
    assert batch.items == [1, 2]


def test_oversized_item_travels_alone() -> None:
    """An item larger than the cap is not refused here: it closes the open batch and goes in its own."""
    batcher = make(max_items=10, max_bytes=100)
    batcher.add("a", 1, 10, at(0.0))
    first, second = batcher.add("a", 2, 500, at(0.0))
    assert (first.items, second.items) == ([1], [2])
    assert batcher.pending == 0


def test_keys_never_share_a_batch() -> None:
    """Items with different keys (destinations) accumulate separately."""
    batcher = make(max_items=2)
    batcher.add("a", 1, 1, at(0.0))
    batcher.add("b", 2, 1, at(0.0))
    (batch,) = batcher.add("a", 3, 1, at(0.0))
    assert (batch.key, batch.items) == ("a", [1, 3])
    assert batcher.pending == 1


def test_batch_is_due_after_its_linger() -> None:
    """A batch is due once linger_s has passed since its first item, not before."""
    batcher = make(linger_s=1.0)
    batcher.add("a", 1, 1, at(10.0))
    batcher.add("a", 2, 1, at(10.5))
    assert batcher.due(10.9) == []
    (batch,) = batcher.due(11.0)
    assert batch.items == [1, 2]
    assert batcher.due(20.0) == []


def test_due_returns_only_lingered_batches_in_opening_order() -> None:
    """Batches opened later stay open while older ones are due."""
    batcher = make(linger_s=1.0)
    batcher.add("a", 1, 1, at(0.0))
    batcher.add("b", 2, 1, at(0.5))
    batcher.add("c", 3, 1, at(2.0))
    assert [batch.key for batch in batcher.due(1.6)] == ["a", "b"]
    assert batcher.pending == 1


def test_next_deadline_is_the_oldest_open_batch() -> None:
    """The caller's single timer only needs the oldest open batch's deadline."""
    batcher = make(linger_s=1.0)
    assert batcher.next_deadline() is None
    batcher.add("a", 1, 1, at(5.0))
    batcher.add("b", 2, 1, at(6.0))
    assert batcher.next_deadline() == 6.0
    batcher.due(6.0)
    assert batcher.next_deadline() == 7.0


def test_reopened_key_lingers_from_its_new_first_item() -> None:
    """After a batch closes, the key's next batch starts a fresh linger."""
    batcher = make(max_items=2, linger_s=1.0)
    batcher.add("a", 1, 1, at(0.0))
    batcher.add("a", 2, 1, at(0.0))
    batcher.add("a", 3, 1, at(3.0))
    assert batcher.next_deadline() == 4.0


def test_drain_closes_everything() -> None:
    """Flush and shutdown take every open batch regardless of linger."""
    batcher = make()
    batcher.add("a", 1, 1, at(0.0))
    batcher.add("b", 2, 1, at(0.0))
    assert sorted(batch.key for batch in batcher.drain()) == ["a", "b"]
    assert batcher.pending == 0
    assert batcher.next_deadline() is None


@pytest.mark.parametrize(("max_items", "max_bytes", "linger_s"), [(0, 10, 0.0), (1, 0, 0.0), (1, 10, -1.0)])
def test_invalid_limits_are_refused(max_items: int, max_bytes: int, linger_s: float) -> None:
    """A batcher that could never close a batch is a programming error."""
    with pytest.raises(ValueError, match="must be positive"):
        Batcher[str, int](max_items, max_bytes, linger_s)
