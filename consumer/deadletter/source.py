"""Reading one record of a source topic back by its position, for a reduced dead letter (its value left out).

A reduced dead letter names the source topic, partition and offset of its message and the size and SHA-256 of what
it left out. ``SourceFetcher.fetch`` reads that offset while the source topic still retains it, and checks the bytes
against the dead letter's record of them, so a replay never sends a different record that happens to sit there.
"""

from __future__ import annotations

import time
import uuid

from confluent_kafka import TopicPartition

from consumer.deadletter.record import Reduction
from consumer.deadletter.scan import bounded_consumer
from consumer.intake.kafka import to_source_message
from consumer.intake.settings import KafkaSettings
from consumer.model import SourceMessage, SourceRef

TIMEOUT_S = 30.0


class OriginalGoneError(Exception):
    """The source topic no longer holds the original of a reduced dead letter (retention, or a different record)."""


class SourceFetcher:
    """One consumer outside any group (nothing is committed), assigned to one position per fetch."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._consumer = bounded_consumer(kafka, f"tiktok-relay-fetch-{uuid.uuid4().hex[:12]}")

    def fetch(self, ref: SourceRef, reduction: Reduction) -> SourceMessage:
        """The source message at ``ref``, checked against ``reduction``; ``OriginalGoneError`` when it is gone."""
        partition = TopicPartition(ref.topic, ref.partition)
        low, high = self._consumer.get_watermark_offsets(partition, timeout=TIMEOUT_S)
        if not low <= ref.offset < high:
            raise OriginalGoneError(
                f"{ref.topic}[{ref.partition}] holds offsets {low} to {high - 1}: offset {ref.offset} is gone "
                "(retention); only the dead letter's context is left"
            )
        self._consumer.assign([TopicPartition(ref.topic, ref.partition, ref.offset)])
        try:
            message = self._read(ref)
        finally:
            self._consumer.unassign()
        if message is None or not reduction.matches(message.key, message.value):
            raise OriginalGoneError(f"{ref.topic}[{ref.partition}]@{ref.offset} is not the dead-lettered record")
        return message

    def _read(self, ref: SourceRef) -> SourceMessage | None:
        deadline = time.monotonic() + TIMEOUT_S
        while time.monotonic() < deadline:
            for record in self._consumer.consume(1, 1.0):
                if record.error() is None:
                    message = to_source_message(record)
                    return message if message.ref.offset == ref.offset else None
        return None

    def close(self) -> None:
        self._consumer.close()
