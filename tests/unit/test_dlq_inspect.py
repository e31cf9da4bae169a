"""Inspection of a dead-letter topic (consumer.dlq.inspect): tallies, samples and masking, without Kafka."""

from __future__ import annotations

from decimal import Decimal

import orjson

from consumer.deadletter.record import dead_letter_record
from consumer.demo.samples import SAMPLE_TIME, sample_record
from consumer.dlq.inspect import Inspection, Summary, masked, sample_view, summarise
from consumer.dlq.original import OriginalEvent
from consumer.dlq.selection import DeadLetterEntry, Filters, read_entry
from consumer.model import DomainRecord, Failure, SourceMessage, SourceRef, Stage

PREFIX = "tiktok.relay."
T0 = 1_750_000_000_000


def entry(
    offset: int, reason: str, failed_ms: int, *, code: int | None = None, route: str | None = "r"
) -> DeadLetterEntry:
    failure = Failure(
        Stage.SEND if code else Stage.MAP,
        reason,
        "SomeError",
        "failed for jane.doe@example.com",
        first_failure_ms=failed_ms,
        last_failure_ms=failed_ms,
        tiktok_code=code,
        route=route,
    )
    source = SourceMessage(SourceRef("orders.paid", 0, offset), b"jane.doe@example.com", b"v", (("trace", b"t"),))
    record = dead_letter_record(source, failure, PREFIX, "0.1.0")
    return read_entry(
        SourceMessage(SourceRef("orders.paid.dlq", 0, offset), record.key, record.value, tuple(record.headers)), PREFIX
    )


def test_summary_counts_each_dimension_with_oldest_and_newest_failure() -> None:
    """Per reason (and route, code, ...): how many, the oldest and the newest failure time."""
    summary = Summary()
    for offset, (reason, failed) in enumerate([("a", T0 + 5), ("a", T0 + 1), ("b", T0 + 3)]):
        summary.add(entry(offset, reason, failed))

    reasons = {value: (t.count, t.oldest_ms, t.newest_ms) for value, t in summary.rows("reason")}
    assert reasons == {"a": (2, T0 + 1, T0 + 5), "b": (1, T0 + 3, T0 + 3)}
    assert (summary.total.count, summary.total.oldest_ms, summary.total.newest_ms) == (3, T0 + 1, T0 + 5)


def test_records_without_a_value_are_grouped_under_none() -> None:
    """A record with no TikTok code or route counts under None, apart from those that have one."""
    summary = Summary()
    summary.add(entry(0, "a", T0, code=40002))
    summary.add(entry(1, "a", T0, route=None))

    assert {value: t.count for value, t in summary.rows("tiktok_code")} == {"40002": 1, None: 1}
    assert {value: t.count for value, t in summary.rows("route")} == {"r": 1, None: 1}


def test_samples_keep_the_newest_entries_of_each_reason() -> None:
    """At most ``samples_per_reason`` per reason, the latest read."""
    summary = Summary(samples_per_reason=2)
    for offset in range(5):
        summary.add(entry(offset, "a", T0 + offset))

    assert [e.position.offset for e in summary.sample_entries()] == [3, 4]


def test_masked_hides_personal_fields_and_pii_in_text() -> None:
    """Identifier fields read [redacted], e-mails in free text are masked, other values stay readable."""
    record = {
        "customer": {"email": "jane@example.com", "customer_id": "c-1", "city": "Berlin", "phone": None},
        "note": "call jane@example.com",
        "total": Decimal("51.80"),
    }

    assert masked(record) == {
        "customer": {"email": "[redacted]", "customer_id": "[redacted]", "city": "Berlin", "phone": None},
        "note": "call [redacted]",
        "total": "51.80",
    }


def test_a_sample_shows_the_failure_and_no_personal_data() -> None:
    """A sample of a real OrderPaid record carries the reason and error, and none of the customer's identifiers."""
    read = entry(3, "mapping_error", T0)
    record = DomainRecord("com.example.commerce.OrderPaid", sample_record("OrderPaid"))
    original = OriginalEvent(read.original(PREFIX), record, "order-paid", int(SAMPLE_TIME.timestamp() * 1000))

    view = sample_view(read, original, PREFIX)
    text = orjson.dumps(view).decode().lower()

    assert (view["reason"], view["source"]["offset"], view["headers"]) == ("mapping_error", 3, ["trace"])
    assert view["record"]["order_id"] == "ord-1001"
    for secret in (
        "jane.doe@example.com",
        "415-555-0132",
        "cust-1001",
        "jane",
        "doe",
        "94107",
        "203.0.113",
        "ttclid-1001",
    ):
        assert secret not in text, secret


def test_summarise_applies_the_filters() -> None:
    """Only entries the filters select are tallied; all are counted as scanned."""
    entries = [entry(0, "a", T0), entry(1, "b", T0), entry(2, "a", T0)]

    scanned, summary = summarise(entries, Filters(reasons=frozenset({"a"})), lambda _e: None, 3)

    assert (scanned, summary.total.count) == (3, 2)


def test_summarise_counts_replayed_and_not_yet_replayed_records() -> None:
    """Of the selected entries, those the replay record names count as replayed; the rest as not replayed yet."""
    entries = [entry(0, "a", T0), entry(1, "a", T0), entry(2, "b", T0)]

    _, summary = summarise(entries, Filters(reasons=frozenset({"a"})), lambda _e: None, 0, {(0, 1), (0, 2)})

    assert (summary.total.count, summary.replayed) == (2, 1)


def test_summarise_reads_event_times_only_for_an_event_time_filter() -> None:
    """Without an event-time filter no record is decoded; with one, the callback decides."""
    asked: list[int] = []

    def event_ms(e: DeadLetterEntry) -> int | None:
        asked.append(e.position.offset)
        return T0 if e.position.offset == 0 else None

    summarise([entry(0, "a", T0), entry(1, "a", T0)], Filters(), event_ms, 0)
    assert asked == []
    _, summary = summarise([entry(0, "a", T0), entry(1, "a", T0)], Filters(event_since_ms=T0), event_ms, 0)
    assert (asked, summary.total.count) == ([0, 1], 1)


def test_the_text_report_lists_every_dimension() -> None:
    """The text rendering names the topic, the total and a row per value."""
    _, summary = summarise(
        [entry(0, "mapping_error", T0), entry(1, "tiktok_rejected", T0, code=40002)], Filters(), lambda _e: None, 0
    )

    text = Inspection("orders.paid.dlq", [], Filters(), 2, summary, []).to_text()

    assert "dead-letter topic orders.paid.dlq: 2 records" in text
    for heading in ("by reason", "by stage", "by route", "by tiktok code", "by source topic", "by replay count"):
        assert heading in text
    assert "tiktok_rejected" in text and "40002" in text


def test_records_without_dead_letter_context_are_counted_apart() -> None:
    """A record that is not a dead-letter record of this service counts as unreadable, in no dimension."""
    stray = read_entry(SourceMessage(SourceRef("orders.paid.dlq", 0, 9), b"k", b"v"), PREFIX)

    _, summary = summarise([stray, entry(0, "a", T0)], Filters(), lambda _e: None, 3)

    assert (summary.unreadable, summary.total.count, sum(t.count for _, t in summary.rows("reason"))) == (1, 1, 1)
