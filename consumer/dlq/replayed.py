"""The replay record: which dead letters a replay already took back, so that overlapping replays send each once.

A replay's own position (its consumer group) only covers its own filters: two replays whose filters overlap would
both send the records they share. So every record a replay handles (sent, re-produced, dead-lettered again,
withheld or skipped by a rule) gets an entry in one compacted topic (``deadletter.replay_record_topic``), keyed
``<dead-letter topic>/<partition>/<offset>`` with the replay, target, outcome and time as the value. `dlq replay`
writes a batch's entries durably (acks=all) before it moves its position past the batch, reads the entries of its
dead-letter topic before it starts, and skips the records they name unless asked to replay again (``--again``);
`dlq inspect` counts replayed and not-yet-replayed records from them. The tool creates the topic when it is missing.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Set
from typing import Any

import orjson
from confluent_kafka import Producer

from consumer.config import RelayConfig
from consumer.deadletter.publisher import producer_config
from consumer.dlq.scan import bounded_reader
from consumer.kafka.bounded import TIMEOUT_S
from consumer.kafka.client import client_config
from consumer.kafka.delivery import DeliveryError, produce_all
from consumer.kafka.settings import KafkaSettings
from consumer.kafka.topics import COMPACTED, TopicSpec, admin_client, ensure_topics
from consumer.model import SourceRef

READ_BATCH = 1000

Replayed = Set[tuple[int, int]]
"""(partition, offset) of the dead letters of one topic that a replay took back."""


class ReplayRecordError(Exception):
    """Kafka did not acknowledge the replay record's entries."""


def record_key(topic: str, partition: int, offset: int) -> bytes:
    """The entry's key; Kafka topic names cannot contain ``/``, so the key splits back unambiguously."""
    return f"{topic}/{partition}/{offset}".encode()


def read_replayed(kafka: KafkaSettings, record_topic: str, dead_letter_topic: str) -> Replayed:
    """The dead letters of ``dead_letter_topic`` the record names (nothing while the record topic does not exist),
    read from its beginning to the end it has now."""
    with bounded_reader(kafka, f"tiktok-relay-replay-record-{uuid.uuid4().hex[:12]}") as reader:
        partitions = reader.existing().get(record_topic)
        if partitions is None:
            return set()
        replayed: set[tuple[int, int]] = set()
        prefix = f"{dead_letter_topic}/".encode()
        for batch in reader.read(reader.to_end(record_topic, partitions), READ_BATCH):
            for message in batch:
                key = message.key() or b""
                if key.startswith(prefix):
                    _, dead_partition, dead_offset = key.decode().rsplit("/", 2)
                    position = (int(dead_partition), int(dead_offset))
                    if message.value() is None:
                        replayed.discard(position)  # a tombstone: the entry was deleted on purpose
                    else:
                        replayed.add(position)
        return replayed


def write_replayed(producer: Producer, record_topic: str, entries: Iterable[tuple[SourceRef, Any]]) -> None:
    """Write one entry per ``(dead-letter position, value)`` durably; ``ReplayRecordError`` unless Kafka took all."""
    records = [
        (record_key(position.topic, position.partition, position.offset), orjson.dumps(value))
        for position, value in entries
    ]
    try:
        produce_all(producer, record_topic, records, TIMEOUT_S)
    except DeliveryError as error:
        raise ReplayRecordError(f"the replay record was not written: {error}") from None


def open_replay_record(config: RelayConfig) -> Producer:
    """The producer of the replay record, its compacted topic created first when missing."""
    settings = config.deadletter
    if settings.create_topics:
        admin = admin_client(client_config(config.kafka))
        ensure_topics(admin, {settings.replay_record_topic: TopicSpec(1, COMPACTED)}, settings.replication_factor)
    return Producer(producer_config(config.kafka, settings))
