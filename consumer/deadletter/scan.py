"""Reading a dead-letter topic: from a start position to the end it had when the scan began.

The scan assigns every partition itself (no group membership, so no rebalance) and stops at the high watermarks it
saw when it opened: records dead-lettered while a replay runs, its own re-failures included, wait for the next run.
Under a replay's consumer group the scan starts at the committed offsets and ``commit`` moves them; without one
(inspect, dry run) nothing is ever committed.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, TopicPartition

from consumer.deadletter.selection import DeadLetterEntry, read_entry
from consumer.intake.connection import client_config
from consumer.intake.kafka import to_source_message
from consumer.intake.settings import KafkaSettings

TIMEOUT_S = 30.0
CONSUME_TIMEOUT_S = 1.0


class TopicNotFoundError(Exception):
    """The dead-letter topic does not exist."""


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """The offsets of one partition a scan reads: ``start`` (inclusive) to ``end`` (exclusive)."""

    partition: int
    start: int
    end: int


def bounded_consumer(kafka: KafkaSettings, group: str) -> Consumer:
    """A consumer for bounded reads of assigned partitions: nothing committed unless asked, end of partition
    reported, unknown positions from the beginning."""
    return Consumer(
        {
            **client_config(kafka),
            **kafka.consumer,
            "group.id": group,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": True,
            "auto.offset.reset": "earliest",
        }
    )


class DeadLetterScan:
    """A bounded read of one dead-letter topic; use as a context manager."""

    def __init__(self, kafka: KafkaSettings, topic: str, prefix: str, group: str | None = None) -> None:
        """``group``: the replay's consumer group, whose committed offsets are the start (else the beginning)."""
        self.topic = topic
        self._prefix = prefix
        self._group = group
        self._consumer = bounded_consumer(kafka, group or f"tiktok-relay-inspect-{uuid.uuid4().hex[:12]}")
        self.ranges = self._plan()
        self._open = {r.partition: r for r in self.ranges if r.start < r.end}
        if self._open:
            self._consumer.assign([TopicPartition(topic, r.partition, r.start) for r in self._open.values()])

    def __enter__(self) -> DeadLetterScan:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def pending(self) -> int:
        """Records between the start and the end, over all partitions (what this scan will read at most)."""
        return sum(r.end - r.start for r in self.ranges)

    def _plan(self) -> list[PartitionRange]:
        metadata = self._consumer.list_topics(self.topic, timeout=TIMEOUT_S).topics.get(self.topic)
        if metadata is None or metadata.error is not None:
            raise TopicNotFoundError(f"topic {self.topic!r} does not exist")
        partitions = sorted(metadata.partitions)
        committed = self._committed(partitions)
        ranges = []
        for partition in partitions:
            low, high = self._consumer.get_watermark_offsets(TopicPartition(self.topic, partition), timeout=TIMEOUT_S)
            start = max(low, committed.get(partition, low))  # retention may have removed the committed position
            ranges.append(PartitionRange(partition, start, high))
        return ranges

    def _committed(self, partitions: list[int]) -> dict[int, int]:
        if self._group is None:
            return {}
        found = self._consumer.committed([TopicPartition(self.topic, p) for p in partitions], timeout=TIMEOUT_S)
        return {tp.partition: tp.offset for tp in found if tp.offset != OFFSET_INVALID and tp.offset >= 0}

    def batches(self, size: int) -> Iterator[list[DeadLetterEntry]]:
        """Entries in partition order as read, ``size`` at most per batch, until every partition reached its end."""
        while self._open:
            batch = []
            for message in self._consumer.consume(size, CONSUME_TIMEOUT_S):
                partition = message.partition() or 0
                error = message.error()
                if error is not None:
                    if error.code() != KafkaError._PARTITION_EOF:
                        raise KafkaException(error)
                    self._open.pop(partition, None)
                    continue
                bound = self._open.get(partition)
                offset = message.offset() or 0
                if bound is None or offset >= bound.end:
                    self._open.pop(partition, None)
                    continue
                if offset + 1 >= bound.end:
                    self._open.pop(partition, None)
                batch.append(read_entry(to_source_message(message), self._prefix))
            if batch:
                yield batch

    def commit(self, positions: Mapping[int, int]) -> None:
        """Commit ``positions`` (partition -> next offset to read) for the replay's group, synchronously."""
        assert self._group is not None, "only a replay's scan commits"
        if positions:
            offsets = [TopicPartition(self.topic, p, offset) for p, offset in sorted(positions.items())]
            self._consumer.commit(offsets=offsets, asynchronous=False)

    def close(self) -> None:
        self._consumer.close()
