"""`dlq replay --to source`: the original records produced back to their topic and partition."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Sequence

from confluent_kafka import KafkaException, Producer

from consumer.config import RelayConfig
from consumer.deadletter.publisher import producer_config
from consumer.dlq.original import OriginalEvent
from consumer.dlq.report import REPLAYED, WOULD_REPLAY, RecordReport, ReplayError
from consumer.dlq.selection import DeadLetterEntry, replayed_headers
from consumer.dlq.target import CLOSE_TIMEOUT_S
from consumer.kafka.bounded import TIMEOUT_S
from consumer.kafka.delivery import delivery_future


class SourceTarget:
    """Re-produces records to their original topic and partition (idempotent, ``acks=all``)."""

    def __init__(self, config: RelayConfig) -> None:
        self._config = config
        self._prefix = config.deadletter.header_prefix
        self._producer: Producer | None = None
        self._partitions: dict[str, int] = {}
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        config = producer_config(self._config.kafka, self._config.deadletter)
        self._producer = Producer(config)

    def preview(self, entry: DeadLetterEntry, original: OriginalEvent | None, now: int) -> RecordReport:
        del now
        if original is None:
            return RecordReport(WOULD_REPLAY, entry)
        return RecordReport(WOULD_REPLAY, entry, original.event_ms, original.summary)

    def submit(self, entry: DeadLetterEntry, original: OriginalEvent | None, now: int) -> Awaitable[RecordReport]:
        del now
        assert self._producer is not None and self._loop is not None and entry.context is not None
        loop, source = self._loop, entry.context.source
        message = original.message if original is not None else entry.original(self._prefix)
        report = RecordReport(REPLAYED, entry, None if original is None else original.event_ms)
        acknowledged, on_delivery = delivery_future(loop)
        headers: list[tuple[str, str | bytes | None]] = [
            *replayed_headers(message.headers, self._prefix, entry.replay_count + 1)
        ]
        self._producer.produce(
            source.topic,
            key=message.key,
            value=message.value,
            headers=headers,
            partition=self._partition(source.topic, source.partition),
            on_delivery=on_delivery,
        )
        self._producer.poll(0)
        return asyncio.ensure_future(_reproduced(acknowledged, source.topic, report))

    def _partition(self, topic: str, partition: int) -> int:
        """The original partition while the topic has it (per-key order survives), else the partitioner's choice."""
        assert self._producer is not None
        if topic not in self._partitions:
            metadata = self._producer.list_topics(topic, timeout=TIMEOUT_S).topics.get(topic)
            if metadata is None or metadata.error is not None or not metadata.partitions:
                raise ReplayError(f"source topic {topic!r} does not exist")
            self._partitions[topic] = len(metadata.partitions)
        return partition if partition < self._partitions[topic] else -1

    async def settle(self, outcomes: Sequence[Awaitable[RecordReport]]) -> list[RecordReport]:
        assert self._producer is not None
        remaining = await asyncio.to_thread(self._producer.flush, TIMEOUT_S * 10)
        if remaining:
            raise ReplayError(f"{remaining} replayed records were not acknowledged by Kafka")
        return list(await asyncio.gather(*outcomes))

    async def close(self) -> None:
        if self._producer is not None:
            await asyncio.to_thread(self._producer.flush, CLOSE_TIMEOUT_S)


async def _reproduced(acknowledged: asyncio.Future[None], topic: str, report: RecordReport) -> RecordReport:
    """``report`` once Kafka acknowledged the re-produced record; ``ReplayError`` when it refused it."""
    try:
        await acknowledged
    except KafkaException as error:
        raise ReplayError(f"producing to {topic}: {error.args[0].str()}") from None
    return report
