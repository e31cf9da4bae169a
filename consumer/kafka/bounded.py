"""Bounded reads: a topic's partitions from a start offset up to an end fixed when the read was planned.

The reader assigns the partitions itself (no group membership, so no rebalance, and nothing committed unless asked),
so what is written while it reads waits for the next read and a live topic still gives a finite one. A partition is
done at its end offset, at the end-of-partition event, or once the consumer's position passed the end (transaction
markers and compacted gaps mean the last offset before the end may never arrive).
"""

from __future__ import annotations

import time
from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from confluent_kafka import OFFSET_INVALID, Consumer, KafkaError, KafkaException, Message, TopicPartition

TIMEOUT_S = 30.0
CONSUME_TIMEOUT_S = 1.0


class TopicNotFoundError(Exception):
    """The topic to read does not exist."""


class ReadStalledError(Exception):
    """No message arrived for the idle limit while partitions were still short of their end."""


@dataclass(frozen=True, slots=True)
class PartitionRange:
    """The offsets of one partition a read covers: ``start`` (inclusive) to ``end`` (exclusive)."""

    topic: str
    partition: int
    start: int
    end: int


class BoundedReader:
    """One consumer for bounded reads (settings from ``consumer.kafka.client.reader_config``); use as a context
    manager."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.consumer = Consumer(dict(config))

    def __enter__(self) -> BoundedReader:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def partitions(self, topic: str) -> list[int]:
        """The partitions of ``topic``, in order; ``TopicNotFoundError`` when it does not exist."""
        metadata = self.consumer.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
        if metadata is None or metadata.error is not None:
            raise TopicNotFoundError(f"topic {topic!r} does not exist")
        return sorted(metadata.partitions)

    def existing(self) -> dict[str, list[int]]:
        """Every topic with its partitions (listing all topics: naming one could auto-create it)."""
        topics = self.consumer.list_topics(timeout=TIMEOUT_S).topics
        return {name: sorted(meta.partitions) for name, meta in topics.items()}

    def watermarks(self, topic: str, partition: int) -> tuple[int, int]:
        """The partition's low and high watermark (first offset held, offset of the next record written)."""
        low, high = self.consumer.get_watermark_offsets(TopicPartition(topic, partition), timeout=TIMEOUT_S)
        return int(low), int(high)

    def committed(self, topic: str, partitions: Iterable[int]) -> dict[int, int]:
        """The offsets the reader's group committed on ``partitions`` (those without a commit left out)."""
        found = self.consumer.committed([TopicPartition(topic, p) for p in partitions], timeout=TIMEOUT_S)
        return {tp.partition: tp.offset for tp in found if tp.offset != OFFSET_INVALID and tp.offset >= 0}

    def to_end(
        self, topic: str, partitions: Iterable[int], starts: Mapping[int, int] | None = None
    ) -> list[PartitionRange]:
        """Each partition from its start (``starts``, else its first offset; never below the first offset still
        held, retention may have removed it) to its high watermark now."""
        ranges = []
        for partition in partitions:
            low, high = self.watermarks(topic, partition)
            start = max(low, (starts or {}).get(partition, low))
            ranges.append(PartitionRange(topic, partition, start, high))
        return ranges

    def read(
        self, ranges: Iterable[PartitionRange], size: int = 1000, idle_limit_s: float | None = None
    ) -> Generator[list[Message]]:
        """The messages of ``ranges``, in offset order per partition, at most ``size`` per batch, until every
        partition reached its end. A Kafka error raises ``KafkaException``; no message for ``idle_limit_s``
        (if given) while partitions are unfinished raises ``ReadStalledError``."""
        remaining = {(r.topic, r.partition): r.end for r in ranges if r.start < r.end}
        self.consumer.assign([TopicPartition(r.topic, r.partition, r.start) for r in ranges if r.start < r.end])
        idle_since = time.monotonic()
        try:
            while remaining:
                messages = self.consumer.consume(size, CONSUME_TIMEOUT_S)
                if messages:
                    idle_since = time.monotonic()
                batch = [m for m in messages if _within(m, remaining)]
                for key, end in list(remaining.items()):
                    if self._position(*key) >= end:
                        del remaining[key]
                if batch:
                    yield batch
                if remaining and idle_limit_s is not None and time.monotonic() - idle_since > idle_limit_s:
                    raise ReadStalledError(
                        f"no messages for {idle_limit_s:.0f} s; partitions not finished: {sorted(remaining)}"
                    )
        finally:
            self.consumer.unassign()

    def _position(self, topic: str, partition: int) -> int:
        (position,) = self.consumer.position([TopicPartition(topic, partition)])
        return int(position.offset)

    def commit(self, topic: str, positions: Mapping[int, int]) -> None:
        """Commit ``positions`` (partition -> next offset to read) for the reader's group, synchronously."""
        if positions:
            offsets = [TopicPartition(topic, p, offset) for p, offset in sorted(positions.items())]
            self.consumer.commit(offsets=offsets, asynchronous=False)

    def close(self) -> None:
        self.consumer.close()


def _within(message: Message, remaining: dict[tuple[str, int], int]) -> bool:
    """Whether ``message`` belongs to the read; drops its partition from ``remaining`` once that is done."""
    key = (message.topic() or "", message.partition() or 0)
    error = message.error()
    if error is not None:
        if error.code() != KafkaError._PARTITION_EOF:
            raise KafkaException(error)
        remaining.pop(key, None)
        return False
    end = remaining.get(key)
    offset = message.offset() or 0
    if end is None or offset >= end:
        remaining.pop(key, None)
        return False
    if offset + 1 >= end:
        remaining.pop(key, None)
    return True
