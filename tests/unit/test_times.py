"""The one reader and writer of times as text (dlq, map, report and the dead-letter headers use it)."""

from __future__ import annotations

import pytest

from consumer.times import format_time_ms, parse_time_ms

NOW_MS = 1_748_772_000_000  # 2025-06-01T10:00:00Z


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-01T10:00:00Z", NOW_MS),
        ("2025-06-01T12:00:00+02:00", NOW_MS),
        ("2025-06-01T10:00:00", NOW_MS),  # no zone is UTC
        ("2025-06-01T10:00:00.250Z", NOW_MS + 250),
        (" 2025-06-01T10:00:00Z ", NOW_MS),
        ("1748772000000", NOW_MS),  # digits are Unix milliseconds, not ISO 8601's basic format
    ],
)
def test_absolute_times_are_iso_8601_or_unix_milliseconds(text: str, expected: int) -> None:
    assert parse_time_ms(text) == expected


@pytest.mark.parametrize(
    ("text", "ago_ms"),
    [("30s", 30_000), ("90m", 90 * 60_000), ("6h", 6 * 3_600_000), ("2d", 2 * 86_400_000), ("2w", 14 * 86_400_000)],
)
def test_given_now_a_time_ago_counts_back_from_it(text: str, ago_ms: int) -> None:
    assert parse_time_ms(text, NOW_MS) == NOW_MS - ago_ms


@pytest.mark.parametrize("text", ["6h", "yesterday", "", "2025-13-01"])
def test_anything_else_is_a_value_error(text: str) -> None:
    """A time ago needs a now (a replay's identity must not change at every run); other text is refused."""
    with pytest.raises(ValueError):
        parse_time_ms(text)


def test_written_times_are_utc_iso_8601_with_milliseconds_and_read_back_exactly() -> None:
    assert format_time_ms(NOW_MS + 7) == "2025-06-01T10:00:00.007Z"
    assert parse_time_ms(format_time_ms(1_700_000_000_007)) == 1_700_000_000_007
