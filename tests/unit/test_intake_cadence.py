"""The poll loop's consume step (``KafkaIntake._cycle``): it waits for the first message at most ``poll_timeout_s``
and for the rest of a batch at most ``GATHER_S``, and records how old the oldest record of each batch was."""

from __future__ import annotations

import time
from typing import cast

from confluent_kafka import TIMESTAMP_CREATE_TIME, TIMESTAMP_NOT_AVAILABLE, Consumer

from consumer.intake.kafka import GATHER_S, KafkaIntake
from consumer.kafka.settings import KafkaSettings
from consumer.observability import metrics
from consumer.settlement.ledger import PartitionKey, Position

DELAY = "tiktok_relay_consume_delay_seconds"


class FakeMessage:
    """A consumed record as confluent-kafka hands it over."""

    def __init__(self, offset: int, timestamp_ms: int | None = None) -> None:
        self._offset = offset
        self._timestamp_ms = timestamp_ms

    def error(self) -> None:
        return None

    def topic(self) -> str:
        return "orders.paid"

    def partition(self) -> int:
        return 0

    def offset(self) -> int:
        return self._offset

    def key(self) -> bytes:
        return b"k"

    def value(self) -> bytes:
        return b"v"

    def headers(self) -> None:
        return None

    def timestamp(self) -> tuple[int, int]:
        if self._timestamp_ms is None:
            return TIMESTAMP_NOT_AVAILABLE, 0
        return TIMESTAMP_CREATE_TIME, self._timestamp_ms


class LibrdkafkaQueue:
    """``consume(num, timeout)`` as librdkafka serves it: up to ``num`` of the queued messages, and when fewer than
    ``num`` are queued it blocks until ``num`` have arrived or the timeout has passed. Each blocking call is
    recorded as (num, timeout); the ``arriving`` messages arrive during the first one."""

    def __init__(self, ready: list[FakeMessage], arriving: list[FakeMessage] | None = None) -> None:
        self.ready = ready
        self.arriving = arriving or []
        self.blocked: list[tuple[int, float]] = []

    def consume(self, num_messages: int, timeout: float) -> list[FakeMessage]:
        if len(self.ready) < num_messages and timeout > 0:
            self.blocked.append((num_messages, timeout))
            self.ready.extend(self.arriving)
            self.arriving = []
        out, self.ready = self.ready[:num_messages], self.ready[num_messages:]
        return out


class NoRebalances:
    async def assigned(self, partitions: list[PartitionKey]) -> None:
        del partitions

    async def revoked(self, partitions: list[PartitionKey]) -> list[Position]:
        del partitions
        return []

    async def lost(self, partitions: list[PartitionKey]) -> None:
        del partitions


def cycle(queue: LibrdkafkaQueue, limit: int = 500) -> list[int]:
    """One consume step of an intake whose consumer is ``queue``; the offsets it handed over."""
    intake = KafkaIntake(KafkaSettings(bootstrap_servers="127.0.0.1:9"), ["orders.paid"], NoRebalances())
    intake._consumer = cast(Consumer, queue)
    return [message.ref.offset for message in intake._cycle([], None, limit, None)]


def test_ready_messages_wait_for_more_only_for_the_gather_window() -> None:
    """Three records are ready and the batch could hold 500: the step waits for more at most ``GATHER_S``, not
    ``poll_timeout_s`` (that wait was added to every event's latency at moderate rates)."""
    queue = LibrdkafkaQueue([FakeMessage(n) for n in range(3)])
    assert cycle(queue) == [0, 1, 2]
    assert queue.blocked == [(499, GATHER_S)]
    assert KafkaSettings(bootstrap_servers="x").poll_timeout_s > GATHER_S


def test_with_nothing_ready_the_step_waits_for_the_first_message_then_gathers() -> None:
    """Nothing is ready: the step blocks until one message arrives (at most ``poll_timeout_s``), then gathers the
    rest of the batch for at most ``GATHER_S``."""
    queue = LibrdkafkaQueue([], arriving=[FakeMessage(7), FakeMessage(8)])
    assert cycle(queue) == [7, 8]
    assert queue.blocked == [(1, KafkaSettings(bootstrap_servers="x").poll_timeout_s), (499, GATHER_S)]


def test_a_full_backlog_fills_the_batch_without_waiting() -> None:
    """Under load the step takes ``limit`` messages and never waits."""
    queue = LibrdkafkaQueue([FakeMessage(n) for n in range(600)])
    assert cycle(queue, limit=500) == list(range(500))
    assert queue.blocked == []


def test_the_oldest_record_of_each_batch_gives_the_consume_delay() -> None:
    """One observation per batch: the age of its oldest record's Kafka timestamp when the batch was consumed."""
    before_count, before_sum = observed(DELAY)
    now_ms = int(time.time() * 1000)
    cycle(LibrdkafkaQueue([FakeMessage(0, now_ms - 90_000), FakeMessage(1, now_ms - 30_000), FakeMessage(2)]))
    after_count, after_sum = observed(DELAY)
    assert after_count == before_count + 1
    assert 90.0 <= after_sum - before_sum < 150.0


def test_records_without_a_timestamp_are_not_observed() -> None:
    """A batch whose records carry no timestamp adds no observation."""
    before = observed(DELAY)
    cycle(LibrdkafkaQueue([FakeMessage(0), FakeMessage(1)]))
    assert observed(DELAY) == before


def observed(name: str) -> tuple[float, float]:
    """(count, sum) of an unlabelled histogram in the relay's registry."""
    count = metrics.REGISTRY.get_sample_value(f"{name}_count") or 0.0
    total = metrics.REGISTRY.get_sample_value(f"{name}_sum") or 0.0
    return count, total
