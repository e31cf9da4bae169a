"""`tiktok-relay dlq`: argument parsing, time forms, and the arguments the Helm chart's replay Job passes."""

from __future__ import annotations

import argparse

import pytest

from consumer.cli import build_parser
from consumer.commands.dlq import filters_from, options_from
from consumer.dlq.selection import Filters, ReplaySpec
from consumer.times import parse_time_ms as parse_time
from tests.unit.test_chart import one, render

NOW_MS = 1_750_000_000_000


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["dlq", *argv])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-06-01T10:00:00Z", 1_748_772_000_000),
        ("2025-06-01T12:00:00+02:00", 1_748_772_000_000),
        ("2025-06-01T10:00:00", 1_748_772_000_000),
        ("1748772000000", 1_748_772_000_000),
        ("90m", NOW_MS - 90 * 60_000),
        ("6h", NOW_MS - 6 * 3_600_000),
        ("2d", NOW_MS - 2 * 86_400_000),
    ],
)
def test_times_are_iso_8601_unix_milliseconds_or_a_time_ago(text: str, expected: int) -> None:
    """ISO 8601 (no zone is UTC), epoch milliseconds and "<n>[smhd]" ago all read as epoch milliseconds."""
    assert parse_time(text, NOW_MS) == expected


def test_a_replay_takes_absolute_times_only() -> None:
    """A time ago would hash to another replay id at every run (losing the position): replay refuses it."""
    with pytest.raises(SystemExit) as exit_info:
        parse("replay", "--topic", "t.dlq", "--to", "source", "--until", "6h")
    assert exit_info.value.code == 2
    assert parse("inspect", "--topic", "t.dlq", "--until", "6h").until is not None


def test_a_bad_time_is_a_usage_error() -> None:
    """An unreadable --since stops argument parsing (exit 2) rather than selecting by accident."""
    with pytest.raises(SystemExit) as exit_info:
        parse("inspect", "--topic", "t.dlq", "--since", "yesterday")
    assert exit_info.value.code == 2


def test_every_filter_flag_reaches_the_filters() -> None:
    """Each filter flag sets its field; repeated flags collect values."""
    args = parse(
        "inspect",
        "--topic",
        "t.dlq",
        *("--reason", "a", "--reason", "b", "--route", "r", "--code", "40002"),
        *("--source-topic", "orders", "--source-partition", "1", "--source-partition", "2"),
        *("--source-offset-from", "10", "--source-offset-to", "20"),
        *("--since", "1000", "--until", "2000", "--event-since", "3000", "--event-until", "4000"),
    )

    assert filters_from(args) == Filters(
        reasons=frozenset({"a", "b"}),
        routes=frozenset({"r"}),
        codes=frozenset({40002}),
        source_topics=frozenset({"orders"}),
        source_partitions=frozenset({1, 2}),
        source_offset_from=10,
        source_offset_to=20,
        failed_since_ms=1000,
        failed_until_ms=2000,
        event_since_ms=3000,
        event_until_ms=4000,
    )


def test_replay_requires_a_target() -> None:
    """`--to` has no default: sending somewhere is always a stated choice."""
    with pytest.raises(SystemExit):
        parse("replay", "--topic", "t.dlq")


def test_the_rate_must_be_positive() -> None:
    """--rate 0 would mean no limit; it is refused."""
    with pytest.raises(SystemExit):
        parse("replay", "--topic", "t.dlq", "--to", "source", "--rate", "0")


def test_the_operator_defaults_to_the_user(monkeypatch: pytest.MonkeyPatch) -> None:
    """Who ran a replay is --operator, else $USER."""
    monkeypatch.setenv("USER", "alice")

    assert options_from(parse("replay", "--topic", "t.dlq", "--to", "source")).operator == "alice"
    assert options_from(parse("replay", "--topic", "t.dlq", "--to", "source", "--operator", "bob")).operator == "bob"


def test_the_helm_replay_job_arguments_parse_to_the_replay_they_name() -> None:
    """The chart's Job (values `replay`, the chart's "everything" values set) passes flags this command reads."""
    job = one(render("everything"), "Job")
    argv = job["spec"]["template"]["spec"]["containers"][0]["args"]

    options = options_from(build_parser().parse_args(argv))

    assert options.spec == ReplaySpec(
        "orders.paid.dlq",
        "tiktok",
        Filters(
            reasons=frozenset({"tiktok_rejected"}),
            routes=frozenset({"orders-paid"}),
            codes=frozenset({40002}),
            failed_since_ms=1_748_736_000_000,
            failed_until_ms=1_748_822_400_000,
        ),
    )
    assert (options.rate, options.dry_run) == (25.0, False)


def test_the_helm_replay_job_is_a_dry_run_by_default() -> None:
    """The chart's default replay values parse to a dry run back to the source topic."""
    job = one(render("defaults", "replay.enabled=true", "replay.topic=orders.dlq"), "Job")

    options = options_from(build_parser().parse_args(job["spec"]["template"]["spec"]["containers"][0]["args"]))

    assert (options.spec.target, options.dry_run, options.rate) == ("source", True, 50.0)
