"""Replay selection (consumer.dlq.selection): reading dead-letter records, filters, verdicts, the loop guard
and the replay's identity. Records are built with the service's own dead-letter record builder."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from consumer.deadletter.record import dead_letter_record
from consumer.dlq.selection import (
    UNREADABLE_COUNT,
    DeadLetterEntry,
    Filters,
    ReplaySpec,
    Rules,
    Verdict,
    decide,
    group_id,
    read_entry,
    replay_count,
    replay_id,
    replayed_headers,
)
from consumer.model import Failure, Header, SourceMessage, SourceRef, Stage

PREFIX = "tiktok.relay."
COUNTER = PREFIX + "replay.count"
HOUR_MS = 3_600_000
NOW_MS = 1_750_000_000_000
RULES = Rules(max_replays=3, max_event_age_ms=7 * 24 * HOUR_MS)


def entry(
    *,
    reason: str = "mapping_error",
    route: str | None = "order-paid",
    code: int | None = None,
    topic: str = "orders.paid",
    partition: int = 0,
    offset: int = 10,
    failed_ms: int = NOW_MS - HOUR_MS,
    headers: tuple[Header, ...] = (("trace", b"\x01\x02"),),
) -> DeadLetterEntry:
    """A dead-letter entry as the service writes it (``dead_letter_record``), read back."""
    failure = Failure(
        stage=Stage.SEND if code else Stage.MAP,
        reason=reason,
        exception_class="SomeError",
        message="something failed",
        first_failure_ms=failed_ms,
        last_failure_ms=failed_ms,
        tiktok_code=code,
        route=route,
    )
    source = SourceMessage(SourceRef(topic, partition, offset), b"key", b"value", headers, NOW_MS - 2 * HOUR_MS)
    record = dead_letter_record(source, failure, PREFIX, "0.1.0")
    return read_entry(
        SourceMessage(
            SourceRef(topic + ".dlq", partition, 7),
            record.key,
            record.value,
            tuple(record.headers),
            record.timestamp_ms,
        ),
        PREFIX,
    )


def test_read_entry_recovers_the_source_message_and_failure() -> None:
    """A dead-letter record reads back to its source ref, failure context and original bytes and headers."""
    read = entry(code=40002, reason="tiktok_rejected")

    assert read.context is not None
    assert read.context.source == SourceRef("orders.paid", 0, 10)
    assert (read.context.failure.reason, read.context.failure.tiktok_code) == ("tiktok_rejected", 40002)
    original = read.original(PREFIX)
    assert (original.ref, original.key, original.value) == (SourceRef("orders.paid", 0, 10), b"key", b"value")
    assert original.headers == (("trace", b"\x01\x02"),)


def test_a_record_without_dead_letter_context_is_unreadable() -> None:
    """A record lacking the context headers becomes an entry with a problem and no context."""
    read = read_entry(SourceMessage(SourceRef("x.dlq", 0, 0), b"k", b"v", (("a", b"b"),)), PREFIX)

    assert read.context is None
    assert read.problem is not None and "missing dead-letter headers" in read.problem


# -- the replay counter -------------------------------------------------------------------------------------------


def test_replay_count_is_zero_without_the_header() -> None:
    """A message never replayed counts 0."""
    assert replay_count([("trace", b"x")], PREFIX) == 0


def test_replay_count_reads_the_last_counter_header() -> None:
    """The last counter header wins (a later replay appended it)."""
    assert replay_count([(COUNTER, b"1"), ("trace", b"x"), (COUNTER, b"2")], PREFIX) == 2


def test_a_malformed_replay_counter_counts_as_over_any_limit() -> None:
    """The loop guard fails closed: a counter that is not a number reads as the largest count."""
    assert replay_count([(COUNTER, b"lots")], PREFIX) == UNREADABLE_COUNT


def test_replayed_headers_keep_the_originals_in_order_and_set_the_counter_last() -> None:
    """Replaying keeps every other header byte-for-byte and in order, and replaces the counter."""
    headers: list[Header] = [("a", b"1"), (COUNTER, b"1"), ("b", None)]

    assert replayed_headers(headers, PREFIX, 2) == [("a", b"1"), ("b", None), (COUNTER, b"2")]


def test_the_counter_survives_a_second_dead_lettering() -> None:
    """A replayed message that fails again is dead-lettered with its headers kept, so its count reads back."""
    first = entry()
    replayed = first.original(PREFIX)
    again = replace(replayed, headers=tuple(replayed_headers(replayed.headers, PREFIX, first.replay_count + 1)))
    failure = Failure(Stage.MAP, "mapping_error", "MappingError", "still broken", route="order-paid")
    record = dead_letter_record(again, failure, PREFIX, "0.1.0")

    read = read_entry(
        SourceMessage(SourceRef("orders.paid.dlq", 0, 8), record.key, record.value, tuple(record.headers)), PREFIX
    )

    assert read.replay_count == 1
    assert read.original(PREFIX).headers == (("trace", b"\x01\x02"), (COUNTER, b"1"))


# -- filters ------------------------------------------------------------------------------------------------------


def selects(filters: Filters, read: DeadLetterEntry) -> bool:
    assert read.context is not None
    return filters.selects_context(read.context, read.failure_ms)


FILTER_CASES: list[tuple[str, Filters, dict[str, Any], dict[str, Any]]] = [
    ("reason", Filters(reasons=frozenset({"tiktok_rejected"})), {"reason": "tiktok_rejected"}, {"reason": "x"}),
    ("route", Filters(routes=frozenset({"lead"})), {"route": "lead"}, {"route": "order-paid"}),
    ("route absent", Filters(routes=frozenset({"lead"})), {"route": "lead"}, {"route": None}),
    ("code", Filters(codes=frozenset({40002})), {"code": 40002}, {"code": 40000}),
    ("code absent", Filters(codes=frozenset({40002})), {"code": 40002}, {"code": None}),
    ("source topic", Filters(source_topics=frozenset({"leads"})), {"topic": "leads"}, {"topic": "orders"}),
    ("source partition", Filters(source_partitions=frozenset({2})), {"partition": 2}, {"partition": 1}),
    ("offset from (inclusive)", Filters(source_offset_from=10), {"offset": 10}, {"offset": 9}),
    ("offset to (inclusive)", Filters(source_offset_to=10), {"offset": 10}, {"offset": 11}),
    ("failed since (inclusive)", Filters(failed_since_ms=NOW_MS), {"failed_ms": NOW_MS}, {"failed_ms": NOW_MS - 1}),
    ("failed until (exclusive)", Filters(failed_until_ms=NOW_MS), {"failed_ms": NOW_MS - 1}, {"failed_ms": NOW_MS}),
]


@pytest.mark.parametrize(("name", "filters", "kept", "dropped"), FILTER_CASES, ids=[c[0] for c in FILTER_CASES])
def test_each_filter_selects_exactly_what_it_names(
    name: str, filters: Filters, kept: dict[str, Any], dropped: dict[str, Any]
) -> None:
    """A filter selects a record with the named value and not one that differs only in that value."""
    assert selects(filters, entry(**kept))
    assert not selects(filters, entry(**dropped))


def test_event_time_filter_includes_since_and_excludes_until() -> None:
    """The event-time range is [since, until); an event time that cannot be read is not in it."""
    filters = Filters(event_since_ms=NOW_MS - HOUR_MS, event_until_ms=NOW_MS)

    assert filters.selects_event_time(NOW_MS - HOUR_MS)
    assert not filters.selects_event_time(NOW_MS)
    assert not filters.selects_event_time(None)


def test_no_filter_selects_everything() -> None:
    """Empty filters select any record, with or without route and code, and any event time."""
    assert selects(Filters(), entry(route=None))
    assert Filters().selects_event_time(None)


def test_several_values_of_a_filter_select_any_and_different_filters_must_all_hold() -> None:
    """Two reasons select either; a reason and a route select only records with both."""
    either = Filters(reasons=frozenset({"a", "b"}))
    both = Filters(reasons=frozenset({"a"}), routes=frozenset({"r"}))

    assert selects(either, entry(reason="a")) and selects(either, entry(reason="b"))
    assert selects(both, entry(reason="a", route="r"))
    assert not selects(both, entry(reason="a", route="s"))


def test_describe_lists_only_the_filters_set_with_times_as_iso_8601() -> None:
    """The description (audit record, replay id) names set filters only, values sorted, times readable."""
    filters = Filters(reasons=frozenset({"b", "a"}), codes=frozenset({40002}), failed_since_ms=0)

    assert filters.describe() == {"reasons": ["a", "b"], "codes": [40002], "failed_since": "1970-01-01T00:00:00.000Z"}


# -- verdicts -----------------------------------------------------------------------------------------------------


def test_decide_replays_a_selected_record() -> None:
    """A selected record under the loop limit and inside the age window is replayed."""
    assert decide(entry(), Filters(), RULES, NOW_MS - HOUR_MS, NOW_MS) is Verdict.REPLAY


def test_decide_reports_unreadable_records() -> None:
    """A record without context is unreadable, whatever the filters."""
    unreadable = read_entry(SourceMessage(SourceRef("x.dlq", 0, 0), None, b"v"), PREFIX)

    assert decide(unreadable, Filters(), RULES, None, NOW_MS) is Verdict.UNREADABLE


def test_decide_does_not_select_what_the_filters_exclude() -> None:
    """Header filters and the event-time filter both exclude."""
    assert decide(entry(reason="a"), Filters(reasons=frozenset({"b"})), RULES, None, NOW_MS) is Verdict.NOT_SELECTED
    outside = Filters(event_until_ms=NOW_MS - 2 * HOUR_MS)
    assert decide(entry(), outside, RULES, NOW_MS - HOUR_MS, NOW_MS) is Verdict.NOT_SELECTED


def test_the_loop_guard_refuses_records_replayed_max_times() -> None:
    """A record replayed ``max_replays`` times is refused; one replayed fewer times is not."""
    at_limit = entry(headers=((COUNTER, b"3"),))
    below = entry(headers=((COUNTER, b"2"),))

    assert decide(at_limit, Filters(), RULES, NOW_MS, NOW_MS) is Verdict.LOOP_GUARD
    assert decide(below, Filters(), RULES, NOW_MS, NOW_MS) is Verdict.REPLAY


def test_events_past_the_age_window_are_skipped_unless_forced() -> None:
    """An event older than the window is skipped; with force_age it is replayed."""
    old = NOW_MS - RULES.max_event_age_ms - 1

    assert decide(entry(), Filters(), RULES, old, NOW_MS) is Verdict.TOO_OLD
    assert decide(entry(), Filters(), replace(RULES, force_age=True), old, NOW_MS) is Verdict.REPLAY


def test_an_unknown_event_time_leaves_the_age_window_to_the_service() -> None:
    """A record whose event time cannot be read (undecodable) is not skipped for age."""
    assert decide(entry(), Filters(), RULES, None, NOW_MS) is Verdict.REPLAY


def test_a_record_an_earlier_replay_took_back_is_skipped_unless_again() -> None:
    """The replay record names the entry: it is skipped as already replayed, unless the replay is run --again;
    a record the filters do not select stays not selected."""
    assert decide(entry(), Filters(), RULES, NOW_MS, NOW_MS, already_replayed=True) is Verdict.ALREADY_REPLAYED
    again = replace(RULES, again=True)
    assert decide(entry(), Filters(), again, NOW_MS, NOW_MS, already_replayed=True) is Verdict.REPLAY
    other = Filters(reasons=frozenset({"b"}))
    assert decide(entry(reason="a"), other, RULES, NOW_MS, NOW_MS, already_replayed=True) is Verdict.NOT_SELECTED


def test_the_id_of_a_replay_without_again_is_unchanged() -> None:
    """The flag joins the identity only when set: replays started before it existed keep their consumer group."""
    assert "again" not in ReplaySpec("t.dlq", "source").describe()


# -- identity -----------------------------------------------------------------------------------------------------


def test_the_same_replay_has_the_same_id() -> None:
    """Equal specs (filters given in any order) hash to the same id and consumer group."""
    one = ReplaySpec("t.dlq", "source", Filters(reasons=frozenset({"a", "b"})))
    two = ReplaySpec("t.dlq", "source", Filters(reasons=frozenset({"b", "a"})))

    assert replay_id(one) == replay_id(two)
    assert group_id(replay_id(one)) == f"tiktok-relay-replay-{replay_id(one)}"


@pytest.mark.parametrize(
    "other",
    [
        ReplaySpec("u.dlq", "source"),
        ReplaySpec("t.dlq", "tiktok"),
        ReplaySpec("t.dlq", "source", Filters(codes=frozenset({40002}))),
        ReplaySpec("t.dlq", "source", max_replays=5),
        ReplaySpec("t.dlq", "source", force_age=True),
        ReplaySpec("t.dlq", "source", again=True),
    ],
    ids=["topic", "target", "filters", "max_replays", "force_age", "again"],
)
def test_a_different_selection_is_a_different_replay(other: ReplaySpec) -> None:
    """Topic, target, filters and limits each change the id: another selection never inherits a position."""
    assert replay_id(other) != replay_id(ReplaySpec("t.dlq", "source"))
