"""Dead-letter records: original bytes untouched, Kafka Connect and service context headers, and parsing back."""

from __future__ import annotations

import hashlib

import orjson
import pytest

from consumer.deadletter.record import (
    CONNECT_EXCEPTION_MESSAGE,
    CONNECT_TOPIC,
    MAX_TEXT_CHARS,
    REDUCTIONS,
    NotADeadLetterRecordError,
    audit_record,
    dead_letter_record,
    original_headers,
    parse_context,
    reduce_record,
    reduction,
)
from consumer.model import ConsentWithheld, Failure, SourceMessage, SourceRef, Stage
from consumer.times import format_time_ms, parse_time_ms

PREFIX = "tiktok.relay."
MESSAGE = SourceMessage(
    ref=SourceRef("orders", 2, 41),
    key=b"\x00key",
    value=b"\x00\x00\x00\x00\x07\xff\xfe",
    headers=(("trace", b"\x01\x02"), ("empty", None)),
    timestamp_ms=1_700_000_000_123,
)
SEND_FAILURE = Failure(
    stage=Stage.SEND,
    reason="tiktok_rejected",
    exception_class="TikTokRejected",
    message="Invalid value for event_id: not a valid string.",
    attempts=3,
    first_failure_ms=1_700_000_001_000,
    last_failure_ms=1_700_000_009_500,
    http_status=200,
    tiktok_code=40002,
    tiktok_message="Invalid value for event_id",
    request_id="req-123",
    route="orders-paid",
)


def headers_of(failure: Failure, message: SourceMessage = MESSAGE) -> dict[str, bytes | None]:
    return dict(dead_letter_record(message, failure, PREFIX, "1.2.3").headers)


def test_original_key_value_timestamp_and_partition_are_kept() -> None:
    """The record carries the source's key, value and timestamp byte-for-byte, aimed at the source's partition."""
    record = dead_letter_record(MESSAGE, SEND_FAILURE, PREFIX, "1.2.3")
    assert (record.key, record.value, record.timestamp_ms, record.partition) == (
        MESSAGE.key,
        MESSAGE.value,
        MESSAGE.timestamp_ms,
        2,
    )


def test_original_headers_come_first_and_unchanged() -> None:
    """The source's headers (including a null-valued one) lead the header list, untouched."""
    record = dead_letter_record(MESSAGE, SEND_FAILURE, PREFIX, "1.2.3")
    assert record.headers[:2] == list(MESSAGE.headers)


def test_kafka_connect_headers_describe_the_source_and_error() -> None:
    """Connect's __connect.errors.* names carry topic, partition, offset, stage and the exception."""
    headers = headers_of(SEND_FAILURE)
    assert headers["__connect.errors.topic"] == b"orders"
    assert headers["__connect.errors.partition"] == b"2"
    assert headers["__connect.errors.offset"] == b"41"
    assert headers["__connect.errors.stage"] == b"send"
    assert headers["__connect.errors.exception.class.name"] == b"TikTokRejected"
    assert headers["__connect.errors.exception.message"] == b"Invalid value for event_id: not a valid string."


def test_service_headers_use_the_configured_prefix() -> None:
    """Reason, attempts, failure times, TikTok's answer, route and version sit under the prefix as UTF-8 text."""
    headers = headers_of(SEND_FAILURE)
    assert headers["tiktok.relay.reason"] == b"tiktok_rejected"
    assert headers["tiktok.relay.attempts"] == b"3"
    assert headers["tiktok.relay.first.failure"] == b"2023-11-14T22:13:21.000Z"
    assert headers["tiktok.relay.last.failure"] == b"2023-11-14T22:13:29.500Z"
    assert headers["tiktok.relay.http.status"] == b"200"
    assert headers["tiktok.relay.tiktok.code"] == b"40002"
    assert headers["tiktok.relay.tiktok.message"] == b"Invalid value for event_id"
    assert headers["tiktok.relay.tiktok.request_id"] == b"req-123"
    assert headers["tiktok.relay.route"] == b"orders-paid"
    assert headers["tiktok.relay.version"] == b"1.2.3"


def test_absent_facts_are_omitted() -> None:
    """A decode failure has no TikTok answer and no route: those headers are left out, not written empty."""
    failure = Failure(stage=Stage.DECODE, reason="bad_magic_byte", exception_class="BadMagicByte", message="no")
    names = set(headers_of(failure))
    assert "tiktok.relay.tiktok.code" not in names
    assert "tiktok.relay.route" not in names
    assert "tiktok.relay.http.status" not in names


def test_pii_in_messages_is_masked() -> None:
    """An e-mail address or phone number inside an error message never reaches a header."""
    failure = Failure(
        stage=Stage.MAP,
        reason="mapping_error",
        exception_class="MappingError",
        message="bad value alice@example.com or +1 213 373 4253",
    )
    text = headers_of(failure)[CONNECT_EXCEPTION_MESSAGE]
    assert text is not None
    assert b"alice@example.com" not in text
    assert b"373" not in text


def test_long_messages_are_truncated() -> None:
    """Free text is cut, so a huge exception message cannot bloat the record."""
    failure = Failure(stage=Stage.MAP, reason="mapping_error", exception_class="E", message="x" * 10_000)
    assert len(headers_of(failure)[CONNECT_EXCEPTION_MESSAGE] or b"") == MAX_TEXT_CHARS


def test_parse_context_reads_back_what_was_written() -> None:
    """A replay tool gets the source ref and the whole failure back from the headers."""
    record = dead_letter_record(MESSAGE, SEND_FAILURE, PREFIX, "1.2.3")
    context = parse_context(record.headers, PREFIX)
    assert context.source == MESSAGE.ref
    assert context.failure == SEND_FAILURE
    assert context.service_version == "1.2.3"


def test_original_headers_strips_the_context() -> None:
    """Replay restores exactly the source's headers."""
    record = dead_letter_record(MESSAGE, SEND_FAILURE, PREFIX, "1.2.3")
    assert original_headers(record.headers, PREFIX) == list(MESSAGE.headers)


def test_a_record_dead_lettered_twice_keeps_its_earlier_context_as_original() -> None:
    """Only the last context block is the record's own; an earlier one belongs to the source message."""
    first = dead_letter_record(MESSAGE, SEND_FAILURE, PREFIX, "1.2.3")
    again = SourceMessage(SourceRef("orders.dlq", 0, 9), first.key, first.value, tuple(first.headers), None)
    second = dead_letter_record(again, SEND_FAILURE, PREFIX, "1.2.4")
    assert original_headers(second.headers, PREFIX) == first.headers
    assert parse_context(second.headers, PREFIX).source == SourceRef("orders.dlq", 0, 9)


def test_parse_context_rejects_records_without_context() -> None:
    """Headers of an ordinary message are not mistaken for a dead-letter record."""
    with pytest.raises(NotADeadLetterRecordError, match=CONNECT_TOPIC):
        parse_context(list(MESSAGE.headers), PREFIX)


def test_time_format_round_trips() -> None:
    """Failure times are ISO 8601 UTC with milliseconds and parse back to the same epoch milliseconds."""
    assert parse_time_ms(format_time_ms(1_700_000_000_007)) == 1_700_000_000_007


def test_audit_record_is_keyed_by_event_id_and_carries_no_pii() -> None:
    """The audit value names the event, route, reason, decision time and source, nothing about the person."""
    withheld = ConsentWithheld(
        ref=SourceRef("leads", 1, 77),
        route="leads",
        event="Lead",
        event_id="lead-1",
        reason="marketing_denied",
        decided_at_ms=1_700_000_000_000,
    )
    key, value = audit_record(withheld)
    assert key == b"lead-1"
    assert orjson.loads(value) == {
        "event_id": "lead-1",
        "route": "leads",
        "event": "Lead",
        "reason": "marketing_denied",
        "decided_at": "2023-11-14T22:13:20.000Z",
        "source_topic": "leads",
        "source_partition": 1,
        "source_offset": 77,
    }


def test_a_reduced_dead_letter_leaves_out_the_value_and_says_how_to_check_the_original() -> None:
    """The first reduction drops only the value: key, own headers and context stay; headers give the value's size,
    SHA-256 and why it was left out, and read back as a Reduction that recognises the original bytes."""
    record = dead_letter_record(MESSAGE, SEND_FAILURE, PREFIX, "1.2.3")
    reduced = reduce_record(record, REDUCTIONS[0], "MSG_SIZE_TOO_LARGE", PREFIX)

    assert (reduced.key, reduced.value, reduced.partition) == (MESSAGE.key, None, 2)
    assert original_headers(reduced.headers, PREFIX) == list(MESSAGE.headers)
    assert parse_context(reduced.headers, PREFIX).source == MESSAGE.ref
    found = reduction(reduced.headers, PREFIX)
    assert found is not None
    assert (found.omitted, found.because) == (("value",), "MSG_SIZE_TOO_LARGE")
    assert found.value_size == len(MESSAGE.value or b"")
    assert found.value_sha256 == hashlib.sha256(MESSAGE.value or b"").hexdigest()
    assert found.matches(MESSAGE.key, MESSAGE.value)
    assert not found.matches(MESSAGE.key, b"other bytes")


def test_the_last_reduction_keeps_only_the_context() -> None:
    """When dropping the value is not enough, the key and the source's own headers go too, counted and hashed."""
    record = dead_letter_record(MESSAGE, SEND_FAILURE, PREFIX, "1.2.3")
    reduced = reduce_record(record, REDUCTIONS[-1], "MSG_SIZE_TOO_LARGE", PREFIX)

    assert (reduced.key, reduced.value) == (None, None)
    assert original_headers(reduced.headers, PREFIX) == []
    found = reduction(reduced.headers, PREFIX)
    assert found is not None
    assert found.omitted == ("value", "key", "headers")
    assert (found.key_size, found.headers_count) == (len(MESSAGE.key or b""), 2)
    assert found.matches(MESSAGE.key, MESSAGE.value)


def test_a_whole_dead_letter_has_no_reduction() -> None:
    assert reduction(dead_letter_record(MESSAGE, SEND_FAILURE, PREFIX, "1").headers, PREFIX) is None
