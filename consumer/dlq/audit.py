"""The replay's audit record: one JSON record per run (not a dry run) on ``deadletter.replay_audit_topic``."""

from __future__ import annotations

from typing import Any

import orjson
from confluent_kafka import Producer

from consumer.config import RelayConfig
from consumer.deadletter.publisher import producer_config
from consumer.dlq.report import ReplayError
from consumer.kafka.bounded import TIMEOUT_S
from consumer.kafka.client import client_config
from consumer.kafka.delivery import DeliveryError, produce_all
from consumer.kafka.topics import TopicSpec, admin_client, ensure_topics


def write_audit(config: RelayConfig, record: dict[str, Any]) -> None:
    """Write one replay audit record (keyed by the replay id) to ``deadletter.replay_audit_topic``, durably."""
    settings = config.deadletter
    topic = settings.replay_audit_topic
    if settings.create_topics:
        ensure_topics(admin_client(client_config(config.kafka)), {topic: TopicSpec()}, settings.replication_factor)
    producer = Producer(producer_config(config.kafka, settings))
    try:
        produce_all(producer, topic, [(str(record["replay_id"]).encode(), orjson.dumps(record))], TIMEOUT_S)
    except DeliveryError as error:
        raise ReplayError(f"the audit record was not written to {topic}: {error}") from None
