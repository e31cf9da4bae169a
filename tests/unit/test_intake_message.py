"""``to_source_message``: a consumed confluent-kafka message as the pipeline sees it, byte for byte (built from
real ``confluent_kafka.Message`` objects)."""

from __future__ import annotations

from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_LOG_APPEND_TIME, TIMESTAMP_NOT_AVAILABLE, Message

from consumer.intake.kafka import to_source_message
from consumer.model import SourceMessage, SourceRef


def test_every_part_of_a_message_is_kept() -> None:
    """Topic, partition, offset, key and value bytes, headers (as a tuple of pairs) and the timestamp."""
    message = Message(
        topic="orders.paid",
        partition=4,
        offset=1234,
        key=b"customer-1",
        value=b"\x00\x00\x00\x00\x01avro",
        headers=[("traceparent", b"00-ab"), ("empty", None)],
        timestamp=(TIMESTAMP_CREATE_TIME, 1_733_000_000_123),
    )
    assert to_source_message(message) == SourceMessage(
        SourceRef("orders.paid", 4, 1234),
        b"customer-1",
        b"\x00\x00\x00\x00\x01avro",
        (("traceparent", b"00-ab"), ("empty", None)),
        1_733_000_000_123,
    )


def test_a_broker_timestamp_counts_and_a_missing_one_is_none() -> None:
    appended = Message(topic="t", partition=0, offset=1, value=b"v", timestamp=(TIMESTAMP_LOG_APPEND_TIME, 42))
    missing = Message(topic="t", partition=0, offset=1, value=b"v", timestamp=(TIMESTAMP_NOT_AVAILABLE, 0))
    assert to_source_message(appended).timestamp_ms == 42
    assert to_source_message(missing).timestamp_ms is None


def test_a_message_without_key_headers_or_value_keeps_them_empty() -> None:
    """No key, no headers (``()``, not ``None``), a tombstone's ``None`` value."""
    message = Message(topic="t", partition=2, offset=7, timestamp=(TIMESTAMP_CREATE_TIME, 5))
    assert to_source_message(message) == SourceMessage(SourceRef("t", 2, 7), None, None, (), 5)
