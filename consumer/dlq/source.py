"""Reading one record of a source topic back by its position, for a reduced dead letter (its value left out).

A reduced dead letter names the source topic, partition and offset of its message and the size and SHA-256 of what
it left out. ``SourceFetcher.fetch`` reads that offset while the source topic still retains it, and checks the bytes
against the dead letter's record of them, so a replay never sends a different record that happens to sit there.
"""

from __future__ import annotations

import uuid
from contextlib import closing

from consumer.deadletter.record import Reduction
from consumer.dlq.scan import bounded_reader
from consumer.intake.kafka import to_source_message
from consumer.kafka.bounded import PartitionRange, ReadStalledError
from consumer.kafka.settings import KafkaSettings
from consumer.model import SourceMessage, SourceRef

TIMEOUT_S = 30.0


class OriginalGoneError(Exception):
    """The source topic no longer holds the original of a reduced dead letter (retention, or a different record)."""


class SourceFetcher:
    """One consumer outside any group (nothing is committed), reading one position per fetch."""

    def __init__(self, kafka: KafkaSettings) -> None:
        self._reader = bounded_reader(kafka, f"tiktok-relay-fetch-{uuid.uuid4().hex[:12]}")

    def fetch(self, ref: SourceRef, reduction: Reduction) -> SourceMessage:
        """The source message at ``ref``, checked against ``reduction``; ``OriginalGoneError`` when it is gone."""
        low, high = self._reader.watermarks(ref.topic, ref.partition)
        if not low <= ref.offset < high:
            raise OriginalGoneError(
                f"{ref.topic}[{ref.partition}] holds offsets {low} to {high - 1}: offset {ref.offset} is gone "
                "(retention); only the dead letter's context is left"
            )
        message = self._read(ref)
        if message is None or not reduction.matches(message.key, message.value):
            raise OriginalGoneError(f"{ref.topic}[{ref.partition}]@{ref.offset} is not the dead-lettered record")
        return message

    def _read(self, ref: SourceRef) -> SourceMessage | None:
        """The record at ``ref.offset`` (None when a compacted gap or a timeout means it did not come)."""
        position = PartitionRange(ref.topic, ref.partition, ref.offset, ref.offset + 1)
        try:
            with closing(self._reader.read([position], 1, idle_limit_s=TIMEOUT_S)) as batches:
                batch = next(batches, None)
        except ReadStalledError:
            return None
        return None if batch is None else to_source_message(batch[0])

    def close(self) -> None:
        self._reader.close()
