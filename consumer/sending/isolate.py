"""Batch isolation: TikTok rejects a whole request for one bad field, so a rejected batch is split in halves and
each half is sent again. Halves that pass are delivered; a rejected single event is the offender. One bad event
in a batch of n costs about 2*log2(n) extra requests, and the rest of the batch is delivered."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

T = TypeVar("T")


def can_isolate(items: Sequence[object]) -> bool:
    """Whether a rejected batch can be narrowed down further (a single event is the offender itself)."""
    return len(items) > 1


def split_in_half(items: Sequence[T]) -> tuple[list[T], list[T]]:
    """The two halves of a batch of at least two items, in order; the first half takes the odd item."""
    middle = (len(items) + 1) // 2
    return list(items[:middle]), list(items[middle:])
