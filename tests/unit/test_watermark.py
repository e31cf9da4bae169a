"""The partition watermark: the committable position is one past the highest contiguous settled offset."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.settlement.watermark import PartitionWatermark


def tracked(*offsets: int) -> PartitionWatermark:
    watermark = PartitionWatermark()
    for offset in offsets:
        watermark.track(offset)
    return watermark


def test_no_position_before_anything_settles() -> None:
    """Consumed but unsettled work gives nothing to commit."""
    watermark = tracked(0, 1, 2)
    assert watermark.position is None
    assert watermark.unsettled == 3


def test_settling_the_head_advances_the_position() -> None:
    """Settling the oldest offset makes the position one past it."""
    watermark = tracked(5, 6, 7)
    assert watermark.settle(5)
    assert watermark.position == 6


def test_position_never_passes_an_unsettled_offset() -> None:
    """Later offsets settled out of order do not move the position past an unsettled one."""
    watermark = tracked(0, 1, 2, 3)
    watermark.settle(0)
    watermark.settle(2)
    watermark.settle(3)
    assert watermark.position == 1
    assert watermark.unsettled == 1


def test_filling_the_gap_jumps_over_everything_settled_after_it() -> None:
    """When the blocking offset settles, the position moves past the whole settled run behind it."""
    watermark = tracked(0, 1, 2, 3)
    for offset in (3, 2, 0, 1):
        watermark.settle(offset)
    assert watermark.position == 4
    assert watermark.unsettled == 0


def test_offset_gaps_in_the_log_are_skipped() -> None:
    """Holes between consumed offsets (transaction markers, compaction) do not block the watermark."""
    watermark = tracked(10, 13, 20)
    watermark.settle(13)
    watermark.settle(10)
    assert watermark.position == 14
    watermark.settle(20)
    assert watermark.position == 21


def test_repeated_and_unknown_settles_are_ignored() -> None:
    """Settling twice, or an offset that was never tracked, changes nothing and reports False."""
    watermark = tracked(0, 1)
    assert watermark.settle(1)
    assert not watermark.settle(1)
    assert not watermark.settle(7)
    assert watermark.unsettled == 1
    assert watermark.position is None


def test_an_offset_inside_the_range_that_was_never_tracked_is_refused() -> None:
    """With 10, 13 and 20 pending, settling 11 (never consumed: a gap, or another assignment's offset) is refused and
    the unsettled count stays as it was."""
    watermark = tracked(10, 13, 20)
    assert not watermark.settle(11)
    assert watermark.unsettled == 3
    assert watermark.settle(10)
    assert watermark.position == 11
    assert watermark.unsettled == 2


def test_offsets_must_be_tracked_in_ascending_order() -> None:
    """Kafka delivers a partition in order; anything else is a bug worth failing loudly on."""
    watermark = tracked(4)
    with pytest.raises(ValueError, match="out of order"):
        watermark.track(3)


@given(st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=200), st.randoms())
def test_position_is_the_contiguous_settled_prefix(steps: list[int], rnd: random.Random) -> None:
    """For any gapped offset sequence settled in any order, the position is one past the longest settled prefix."""
    offsets = []
    offset = 0
    for step in steps:
        offset += step
        offsets.append(offset)
    watermark = tracked(*offsets)
    order = offsets[:]
    rnd.shuffle(order)
    settled: set[int] = set()
    for done in order[: len(order) // 2 + 1]:
        watermark.settle(done)
        settled.add(done)
        prefix = 0
        while prefix < len(offsets) and offsets[prefix] in settled:
            prefix += 1
        expected = offsets[prefix - 1] + 1 if prefix else None
        assert watermark.position == expected
        assert watermark.unsettled == len(offsets) - len(settled)
