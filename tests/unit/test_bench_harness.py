"""The benchmark harness's /proc parsing and statistics (bench.harness)."""

from __future__ import annotations

import math
import os

import pytest

from bench.harness import (
    Figure,
    bucket_quantile,
    bytes_per_unit,
    gauge_values,
    histogram_buckets,
    parse_stat_cpu_seconds,
    parse_status_kib,
    percentile,
    read_proc,
    render_section,
)

STAT_LINE = "4242 (tiktok relay (x)) S 1 4242 4242 0 -1 4194560 1500 0 0 0 250 50 0 0 20 0 9 0 123 456 789"


def test_stat_cpu_is_utime_plus_stime_in_seconds() -> None:
    """utime 250 + stime 50 ticks at 100 ticks/s is 3 CPU seconds, even when comm holds spaces and parentheses."""
    assert parse_stat_cpu_seconds(STAT_LINE, clock_ticks=100) == 3.0


def test_status_field_is_read_in_bytes() -> None:
    """VmHWM in kB becomes bytes."""
    assert parse_status_kib("Name:\tpython\nVmHWM:\t  2048 kB\nVmRSS:\t 1024 kB\n", "VmHWM") == 2048 * 1024


def test_missing_status_field_reads_zero() -> None:
    """A process without the field (a zombie has no VmRSS) reads 0."""
    assert parse_status_kib("Name:\tpython\n", "VmRSS") == 0


def test_read_proc_of_self_sees_memory_and_cpu() -> None:
    """Reading this very process returns a positive peak RSS at least as large as the current RSS."""
    sample = read_proc(os.getpid())
    assert sample.peak_rss_bytes >= sample.rss_bytes > 0
    assert sample.cpu_s >= 0


def test_percentile_is_nearest_rank() -> None:
    """p50 of 1..100 is 50 and p99 is 99 (nearest rank)."""
    values = [float(v) for v in range(100, 0, -1)]
    assert (percentile(values, 0.5), percentile(values, 0.99)) == (50.0, 99.0)


def test_percentile_of_nothing_raises() -> None:
    """An empty sample has no percentile."""
    with pytest.raises(ValueError, match="no values"):
        percentile([], 0.5)


def test_section_aligns_rows_under_title() -> None:
    """A section prints its title and one row per figure with the unit."""
    text = render_section("drain", [Figure("events/s", 31234.5, "ev/s"), Figure("requests", 32)])
    title, first, second = text.splitlines()
    assert title == "== drain"
    assert first.split() == ["events/s", "31,234", "ev/s"]
    assert second.split() == ["requests", "32"]
    assert first.index("31,234") + len("31,234") == second.index("32") + len("32")


def test_gauge_values_reads_named_unlabelled_gauges() -> None:
    """Only the named gauges are read from the exposition; comments and other metrics are ignored."""
    text = (
        "# HELP tiktok_relay_unsettled_messages consumed messages not yet settled\n"
        "# TYPE tiktok_relay_unsettled_messages gauge\n"
        "tiktok_relay_unsettled_messages 19873.0\n"
        "tiktok_relay_paused_partitions 16.0\n"
        'tiktok_relay_delivered_total{route="order-paid",event="Purchase"} 5.0\n'
    )
    names = ["tiktok_relay_unsettled_messages", "tiktok_relay_paused_partitions", "absent"]
    assert gauge_values(text, names) == {
        "tiktok_relay_unsettled_messages": 19873.0,
        "tiktok_relay_paused_partitions": 16.0,
    }


EXPOSITION = """# HELP tiktok_relay_request_seconds TikTok request latency
# TYPE tiktok_relay_request_seconds histogram
tiktok_relay_request_seconds_bucket{le="0.1"} 10.0
tiktok_relay_request_seconds_bucket{le="+Inf"} 40.0
tiktok_relay_request_seconds_bucket{le="0.05"} 0.0
tiktok_relay_request_seconds_count 40.0
tiktok_relay_request_seconds_sum 9.0
tiktok_relay_batch_events_bucket{le="1.0"} 3.0
"""


def test_histogram_buckets_are_read_in_ascending_bounds() -> None:
    """Only the named histogram's buckets, sorted by bound with +Inf last, whatever order they came in."""
    assert histogram_buckets(EXPOSITION, "tiktok_relay_request_seconds") == [
        (0.05, 0.0),
        (0.1, 10.0),
        (float("inf"), 40.0),
    ]


def test_bucket_quantile_interpolates_inside_the_bucket_between_two_readings() -> None:
    """Between the readings 100 observations were made: 50 up to 0.1 s, 50 in (0.1, 0.5]. The median is the top of
    the first bucket; the 0.75 quantile is halfway through the second."""
    before = [(0.1, 20.0), (0.5, 20.0), (float("inf"), 20.0)]
    after = [(0.1, 70.0), (0.5, 120.0), (float("inf"), 120.0)]
    assert bucket_quantile(before, after, 0.5) == pytest.approx(0.1)
    assert bucket_quantile(before, after, 0.75) == pytest.approx(0.3)


def test_bucket_quantile_in_the_open_bucket_reads_as_the_largest_bound() -> None:
    """Observations beyond the last finite bound cannot be placed: the quantile reads as that bound (at least)."""
    assert bucket_quantile([], [(1.0, 1.0), (float("inf"), 10.0)], 0.99) == 1.0


def test_bucket_quantile_without_observations_is_nan() -> None:
    """No observation between the readings: no quantile."""
    assert math.isnan(bucket_quantile([(1.0, 5.0)], [(1.0, 5.0)], 0.5))


def test_bytes_per_unit_is_the_slope_while_the_count_rises_to_its_peak() -> None:
    """1 KiB per unit from a quarter of the peak up to the peak; the samples before (start-up) and after (memory
    not returned while the count falls) do not bend the slope."""
    rising = [(float(n), 50_000_000 + n * 1024) for n in range(250, 1001, 50)]
    trace = [(0.0, 10_000_000), (100.0, 40_000_000), *rising, (500.0, 80_000_000), (0.0, 80_000_000)]
    assert bytes_per_unit(trace) == pytest.approx(1024)


def test_bytes_per_unit_needs_a_rise() -> None:
    """A count that never changed gives no slope."""
    assert bytes_per_unit([(5.0, 100), (5.0, 200)]) is None
    assert bytes_per_unit([]) is None
