"""The Kafka intake against the real broker: commits follow the settled watermark, pause holds messages back."""

from __future__ import annotations

import asyncio
import uuid

from confluent_kafka import Consumer, Producer, TopicPartition

from consumer.intake.backpressure import FlowAction
from consumer.intake.kafka import KafkaIntake
from consumer.kafka.client import local_config
from consumer.kafka.settings import KafkaSettings
from consumer.model import SourceMessage
from consumer.settlement.ledger import Ledger, PartitionKey, Position, SettleToken
from tests.integration.conftest import TopicFactory


class LedgerListener:
    """The rebalance side of the service, reduced to the ledger."""

    def __init__(self) -> None:
        self.ledger = Ledger()

    async def assigned(self, partitions: list[PartitionKey]) -> None:
        self.ledger.assign(partitions)

    async def revoked(self, partitions: list[PartitionKey]) -> list[Position]:
        return self.ledger.revoke(partitions)

    async def lost(self, partitions: list[PartitionKey]) -> None:
        self.ledger.revoke(partitions)


def settings(bootstrap_servers: str) -> KafkaSettings:
    return KafkaSettings(bootstrap_servers=bootstrap_servers, group_id=f"intake-{uuid.uuid4().hex[:8]}")


def produce_values(producer: Producer, topic: str, count: int) -> None:
    for index in range(count):
        producer.produce(topic, value=f"v{index}".encode(), headers=[("h", b"\x00")])
    assert producer.flush(30) == 0


async def consume(
    intake: KafkaIntake, listener: LedgerListener, expected: int
) -> list[tuple[SourceMessage, SettleToken | None]]:
    """Cycle (storing nothing) until ``expected`` messages arrived, tracking them in the ledger."""
    out: list[tuple[SourceMessage, SettleToken | None]] = []
    for _ in range(300):
        for message in await intake.cycle([], None, 100):
            out.append((message, listener.ledger.track(message.ref)))
        if len(out) >= expected:
            break
    return out


def committed(bootstrap_servers: str, group_id: str, topic: str) -> int:
    reader = Consumer({**local_config(bootstrap_servers), "group.id": group_id})
    try:
        [partition] = reader.committed([TopicPartition(topic, 0)], timeout=10)
        return partition.offset
    finally:
        reader.close()


async def test_the_committed_offset_is_the_settled_watermark(
    bootstrap_servers: str, new_topic: TopicFactory, producer: Producer
) -> None:
    """With offsets 0-4 and 6 settled but 5 not, closing commits 5: never past an unsettled message."""
    topic = new_topic("intake")
    produce_values(producer, topic, 10)
    config = settings(bootstrap_servers)
    listener = LedgerListener()
    intake = KafkaIntake(config, [topic], listener)
    await intake.start()
    consumed = await consume(intake, listener, 10)
    assert [m.value for m, _ in consumed] == [f"v{i}".encode() for i in range(10)]
    assert consumed[0][0].headers == (("h", b"\x00"),)

    for message, token in consumed:
        if message.ref.offset in {0, 1, 2, 3, 4, 6}:
            assert token is not None
            listener.ledger.settle(token)
    await intake.close(listener.ledger.positions())

    assert committed(bootstrap_servers, config.group_id, topic) == 5


async def test_paused_partitions_deliver_nothing_until_resumed(
    bootstrap_servers: str, new_topic: TopicFactory, producer: Producer
) -> None:
    """After a pause, new messages stay in Kafka while consume keeps being called; a resume delivers them."""
    topic = new_topic("intake")
    listener = LedgerListener()
    intake = KafkaIntake(settings(bootstrap_servers), [topic], listener)
    await intake.start()
    produce_values(producer, topic, 3)
    await consume(intake, listener, 3)

    await intake.cycle([], FlowAction.PAUSE, 100)
    produce_values(producer, topic, 5)
    held = [m for _ in range(20) for m in await intake.cycle([], None, 100)]
    resumed = await consume_after_resume(intake)
    await intake.close([])

    assert held == []
    assert intake.paused is False
    assert [m.value for m in resumed] == [f"v{i}".encode() for i in range(5)]


async def consume_after_resume(intake: KafkaIntake) -> list[SourceMessage]:
    out = list(await intake.cycle([], FlowAction.RESUME, 100))
    for _ in range(100):
        if len(out) >= 5:
            break
        out.extend(await intake.cycle([], None, 100))
        await asyncio.sleep(0)
    return out
