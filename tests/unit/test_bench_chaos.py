"""The poison scenario's accounting: a bad record counts as dead-lettered only if its dead letter kept it."""

from __future__ import annotations

from bench.chaos import OVERSIZED, dead_letter_id
from bench.workload import Event

SMALL = Event("orders.paid", "poison-json", False, b"poison-json", b'{"a": 1}')
HUGE = Event("orders.paid", "poison-oversized", False, b"poison-oversized", b"\x00" * OVERSIZED)
KEYED = {event.key: event for event in (SMALL, HUGE)}
BY_VALUE = {b"valid-bytes": "evt-1"}


def test_a_poison_record_counts_when_its_bytes_are_unchanged() -> None:
    assert dead_letter_id(SMALL.key, SMALL.value, KEYED, BY_VALUE) == "poison-json"


def test_an_altered_or_missing_value_does_not_count_unless_the_record_was_the_oversized_one() -> None:
    """Only the oversized record may come back without its value (a reduced dead letter)."""
    assert dead_letter_id(SMALL.key, b'{"a": 2}', KEYED, BY_VALUE) == "altered:poison-json"
    assert dead_letter_id(SMALL.key, None, KEYED, BY_VALUE) == "altered:poison-json"
    assert dead_letter_id(HUGE.key, None, KEYED, BY_VALUE) == "poison-oversized"


def test_other_dead_letters_are_found_by_their_value() -> None:
    assert dead_letter_id(b"k", b"valid-bytes", KEYED, BY_VALUE) == "evt-1"
    assert dead_letter_id(b"k", b"other", KEYED, BY_VALUE) == "unknown:b'k'"
