"""Topic administration: which topics exist with how many partitions, and creating the missing ones.

When the relay ensures its own topics, one that another client created a moment ago is not an error (two replicas
of the service start at once, or a replay runs beside the service); any other refusal is raised.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import AdminClient
from confluent_kafka.cimpl import NewTopic

ADMIN_TIMEOUT_S = 30.0
COMPACTED: Mapping[str, str] = {"cleanup.policy": "compact"}


@dataclass(frozen=True, slots=True)
class TopicSpec:
    """How a topic is created: its partition count and topic-level settings (e.g. ``COMPACTED``)."""

    partitions: int = 1
    config: Mapping[str, str] = field(default_factory=dict)


def admin_client(client: Mapping[str, Any]) -> AdminClient:
    """An admin client with ``client``'s settings (``consumer.kafka.client``)."""
    return AdminClient(dict(client))


def partition_counts(admin: AdminClient, timeout_s: float = ADMIN_TIMEOUT_S) -> dict[str, int]:
    """Every topic the cluster lists, with its partition count (listing all topics never auto-creates one)."""
    topics = admin.list_topics(timeout=timeout_s).topics
    return {name: len(meta.partitions) for name, meta in topics.items()}


def create_topics(
    admin: AdminClient,
    topics: Mapping[str, TopicSpec],
    replication_factor: int = 1,
    timeout_s: float = ADMIN_TIMEOUT_S,
    *,
    exist_ok: bool = False,
) -> list[str]:
    """Create ``topics`` and wait until the broker answered for each; returns those this call created (with
    ``exist_ok``, a topic that exists already is skipped instead of raised)."""
    if not topics:
        return []
    new = [
        NewTopic(name, num_partitions=spec.partitions, replication_factor=replication_factor, config=dict(spec.config))
        for name, spec in topics.items()
    ]
    futures = admin.create_topics(new)
    created = []
    for name, future in futures.items():
        try:
            future.result(timeout=timeout_s)
            created.append(name)
        except KafkaException as error:
            if not exist_ok or error.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    return created


def ensure_topics(
    admin: AdminClient, topics: Mapping[str, TopicSpec], replication_factor: int = 1, timeout_s: float = ADMIN_TIMEOUT_S
) -> list[str]:
    """Create those of ``topics`` the cluster does not list; returns the ones this call created."""
    existing = partition_counts(admin, timeout_s)
    missing = {name: spec for name, spec in topics.items() if name not in existing}
    return create_topics(admin, missing, replication_factor, timeout_s, exist_ok=True)
