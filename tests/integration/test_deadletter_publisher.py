"""The dead-letter and audit publisher against the real broker: topics created to match the source, records
durable before their futures resolve, a write Kafka cannot take retried rather than reported done."""

from __future__ import annotations

import asyncio
import uuid

import orjson
from confluent_kafka.admin import AdminClient

from consumer.deadletter.publisher import DeadLetterPublisher
from consumer.deadletter.record import original_headers, parse_context
from consumer.deadletter.settings import DeadLetterSettings
from consumer.kafka.settings import KafkaSettings
from consumer.kafka.topics import TopicSpec, create_topics
from consumer.model import ConsentWithheld, Failure, SourceMessage, SourceRef, Stage
from tests.integration.conftest import TopicFactory, consume_all

FAILURE = Failure(stage=Stage.DECODE, reason="decode_malformed", exception_class="MalformedPayloadError", message="x")


def publisher(bootstrap_servers: str, **settings: object) -> DeadLetterPublisher:
    return DeadLetterPublisher(
        DeadLetterSettings.model_validate({"audit_topic": f"audit-{uuid.uuid4().hex[:8]}", **settings}),
        KafkaSettings(bootstrap_servers=bootstrap_servers),
        "9.9.9",
    )


async def test_dead_letter_topic_gets_the_source_partition_count_and_the_record_its_partition(
    bootstrap_servers: str, admin: AdminClient, new_topic: TopicFactory
) -> None:
    """A missing <topic>.dlq is created with the source's 4 partitions; a record from partition 3 lands in
    partition 3 with key, value, headers and timestamp unchanged."""
    source = new_topic("src", partitions=4)
    message = SourceMessage(SourceRef(source, 3, 17), b"k", b"\x00\xffv", (("h", b"\x01"),), 1_700_000_000_000)
    dead_letters = publisher(bootstrap_servers)
    await dead_letters.start([source])
    await asyncio.wait_for(dead_letters.dead_letter(message, FAILURE), 30)
    await dead_letters.close(timeout_s=5)

    assert len(admin.list_topics(timeout=10).topics[f"{source}.dlq"].partitions) == 4
    [record] = consume_all(bootstrap_servers, f"{source}.dlq", expected=1)
    headers = record.headers() or []
    assert isinstance(headers, list)
    assert (record.partition(), record.key(), record.value()) == (3, b"k", b"\x00\xffv")
    assert record.timestamp()[1] == 1_700_000_000_000
    assert original_headers(headers, "tiktok.relay.") == [("h", b"\x01")]
    assert parse_context(headers, "tiktok.relay.").source == message.ref


async def test_audit_records_are_acknowledged_and_readable(bootstrap_servers: str) -> None:
    """An audit write resolves once Kafka has the record: keyed by event_id, a JSON value naming the source."""
    audit_topic = f"audit-{uuid.uuid4().hex[:8]}"
    audits = publisher(bootstrap_servers, audit_topic=audit_topic)
    await audits.start([])
    withheld = ConsentWithheld(SourceRef("leads", 0, 5), "leads", "Lead", "evt-9", "consent_denied", 1_700_000_000_000)
    await asyncio.wait_for(audits.audit(withheld), 30)
    await audits.close(timeout_s=5)

    [record] = consume_all(bootstrap_servers, audit_topic, expected=1)
    assert record.key() == b"evt-9"
    assert orjson.loads(record.value() or b"")["source_offset"] == 5


async def test_a_write_kafka_cannot_take_is_retried_until_it_is_durable(
    bootstrap_servers: str, admin: AdminClient
) -> None:
    """With topic creation off and the dead-letter topic missing, the write stays unresolved (its message stays
    unsettled) while it is retried; once the topic exists, it goes through."""
    source = f"absent-{uuid.uuid4().hex[:8]}"
    dead_letters = publisher(
        bootstrap_servers,
        create_topics=False,
        retry_backoff_max_s=0.5,
        producer={"message.timeout.ms": 1000, "topic.metadata.refresh.interval.ms": 500},
    )
    await dead_letters.start([source])
    future = dead_letters.dead_letter(SourceMessage(SourceRef(source, 0, 0), None, b"v"), FAILURE)

    await asyncio.sleep(3)
    assert not future.done()
    create_topics(admin, {f"{source}.dlq": TopicSpec()})
    await asyncio.wait_for(future, 30)
    await dead_letters.close(timeout_s=5)

    assert len(consume_all(bootstrap_servers, f"{source}.dlq", expected=1)) == 1
