"""Reading a dead-letter topic: from a start position to the end it had when the scan began.

The scan assigns every partition itself (no group membership, so no rebalance) and stops at the high watermarks it
saw when it opened: records dead-lettered while a replay runs, its own re-failures included, wait for the next run.
Under a replay's consumer group the scan starts at the committed offsets and ``commit`` moves them; without one
(inspect, dry run) nothing is ever committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping

from consumer.dlq.selection import DeadLetterEntry, read_entry
from consumer.intake.kafka import to_source_message
from consumer.kafka.bounded import BoundedReader, PartitionRange
from consumer.kafka.client import consumer_client_config, reader_config
from consumer.kafka.settings import KafkaSettings


def bounded_reader(kafka: KafkaSettings, group: str) -> BoundedReader:
    """A bounded reader with the relay's client settings and its consumer extras, under ``group``."""
    return BoundedReader(reader_config(consumer_client_config(kafka), group))


class DeadLetterScan:
    """A bounded read of one dead-letter topic; use as a context manager."""

    def __init__(self, kafka: KafkaSettings, topic: str, prefix: str, group: str | None = None) -> None:
        """``group``: the replay's consumer group, whose committed offsets are the start (else the beginning)."""
        self.topic = topic
        self._prefix = prefix
        self._group = group
        self._reader = bounded_reader(kafka, group or f"tiktok-relay-inspect-{uuid.uuid4().hex[:12]}")
        partitions = self._reader.partitions(topic)
        self.ranges: list[PartitionRange] = self._reader.to_end(
            topic, partitions, self._reader.committed(topic, partitions) if group is not None else None
        )

    def __enter__(self) -> DeadLetterScan:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Records between the start and the end, over all partitions (what this scan will read at most)."""
        return sum(r.end - r.start for r in self.ranges)

    def batches(self, size: int) -> Iterator[list[DeadLetterEntry]]:
        """Entries in partition order as read, ``size`` at most per batch, until every partition reached its end."""
        for messages in self._reader.read(self.ranges, size):
            yield [read_entry(to_source_message(message), self._prefix) for message in messages]

    def commit(self, positions: Mapping[int, int]) -> None:
        """Commit ``positions`` (partition -> next offset to read) for the replay's group, synchronously."""
        assert self._group is not None, "only a replay's scan commits"
        self._reader.commit(self.topic, positions)

    def close(self) -> None:
        self._reader.close()
