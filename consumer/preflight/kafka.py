"""Kafka checks, with the relay's own connection settings and so its own principal.

ACL-aware: topics and the group are described together with the operations the principal may perform on them, and
a topic the relay would create is validated by the broker (``validate_only``) without being created. Without an
authorizer the broker reports no operations; then existence is what is checked.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, TopicCollection
from confluent_kafka.admin import AclOperation, AdminClient, ConsumerGroupDescription, NewTopic, TopicDescription

from consumer.config import RelayConfig
from consumer.kafka.client import client_config
from consumer.preflight.result import CheckResult, failed, passed

TopicState = TopicDescription | KafkaError
RETRY_INTERVAL_S = 0.5
COORDINATOR_PENDING = frozenset(
    {KafkaError.NOT_COORDINATOR, KafkaError.COORDINATOR_NOT_AVAILABLE, KafkaError.COORDINATOR_LOAD_IN_PROGRESS}
)


@dataclass(frozen=True, slots=True)
class KafkaPlan:
    """What the relay will touch: the topics it reads, the group it joins, the topics it writes (and their sizes
    when it has to create them: a dead-letter topic gets its source's partition count)."""

    group: str
    sources: Sequence[str]
    dead_letter: dict[str, str]  # source -> dead-letter topic
    audit_topic: str
    audit_partitions: int
    create_topics: bool
    replication_factor: int

    @classmethod
    def of(cls, config: RelayConfig, sources: Sequence[str]) -> KafkaPlan:
        settings = config.deadletter
        return cls(
            config.kafka.group_id,
            sources,
            {source: settings.dead_letter_topic(source) for source in sources},
            settings.audit_topic,
            settings.audit_partitions,
            settings.create_topics,
            settings.replication_factor,
        )


@dataclass(frozen=True, slots=True)
class WrittenTopic:
    """A topic the relay writes, the check's name for it, and its size if the relay creates it."""

    name: str
    topic: str
    partitions: int | None


def kafka_checks(config: RelayConfig, sources: Sequence[str], timeout_s: float) -> list[CheckResult]:
    """Brokers, then (when they answer) every source topic, the group, every dead-letter topic and the audit topic."""
    plan = KafkaPlan.of(config, sources)
    admin = AdminClient({**client_config(config.kafka), "socket.timeout.ms": int(timeout_s * 1000)})
    brokers = check_brokers(admin, config.kafka.bootstrap_servers, timeout_s)
    if not brokers.ok:
        return [brokers]
    states = describe_topics(admin, [*plan.sources, *plan.dead_letter.values(), plan.audit_topic], timeout_s)
    results = [brokers]
    results += [check_source_topic(topic, states[topic]) for topic in plan.sources]
    results.append(check_group(admin, plan.group, timeout_s))
    written = [
        WrittenTopic(f"dead-letter topic {dlq}", dlq, _partition_count(states[source]))
        for source, dlq in plan.dead_letter.items()
    ]
    written.append(WrittenTopic(f"audit topic {plan.audit_topic}", plan.audit_topic, plan.audit_partitions))
    for topic in written:
        result = check_written_topic(topic.name, states[topic.topic], plan)
        results.append(result or check_creatable(admin, topic, plan, timeout_s))
    return results


def check_brokers(admin: AdminClient, bootstrap_servers: str, timeout_s: float) -> CheckResult:
    name = "brokers"
    try:
        cluster = admin.describe_cluster(request_timeout=timeout_s).result(timeout=timeout_s + 5)
    except KafkaException as error:
        return failed(name, f"{bootstrap_servers} did not answer: {_describe(error)}")
    return passed(name, f"{bootstrap_servers} answered ({len(cluster.nodes)} broker(s))")


def describe_topics(admin: AdminClient, topics: Sequence[str], timeout_s: float) -> dict[str, TopicState]:
    """Each topic's description with the principal's authorized operations, or the error that answered instead."""
    unique = list(dict.fromkeys(topics))
    futures = admin.describe_topics(
        TopicCollection(unique), request_timeout=timeout_s, include_authorized_operations=True
    )
    states: dict[str, TopicState] = {}
    for topic, future in futures.items():
        try:
            states[topic] = future.result(timeout=timeout_s + 5)
        except KafkaException as error:
            states[topic] = error.args[0]
    return states


def check_source_topic(topic: str, state: TopicState) -> CheckResult:
    name = f"topic {topic}"
    if isinstance(state, KafkaError):
        return failed(name, _topic_error(state, "DESCRIBE and READ"))
    if not _may(state.authorized_operations, AclOperation.READ):
        return failed(name, "exists, but the relay's principal may not read it (grant READ on the topic)")
    return passed(name, f"exists ({len(state.partitions)} partitions) and may be read")


def check_group(admin: AdminClient, group: str, timeout_s: float) -> CheckResult:
    name = f"group {group}"
    try:
        description = describe_group(admin, group, timeout_s)
    except KafkaException as error:
        kafka_error: KafkaError = error.args[0]
        if kafka_error.code() == KafkaError.GROUP_AUTHORIZATION_FAILED:
            return failed(name, "the relay's principal may not use the group (grant READ on the group)")
        return failed(name, f"could not be described: {_describe(error)}")
    if not _may(description.authorized_operations, AclOperation.READ):
        return failed(name, "the relay's principal may not join or commit (grant READ on the group)")
    return passed(name, f"may be joined (state {description.state.name.lower()})")


def describe_group(admin: AdminClient, group: str, timeout_s: float) -> ConsumerGroupDescription:
    """The group's description; while the group has no coordinator yet (a fresh cluster creates its offsets topic on
    first use) it is asked again until ``timeout_s`` has passed."""
    deadline = time.monotonic() + timeout_s
    while True:
        futures = admin.describe_consumer_groups([group], request_timeout=timeout_s, include_authorized_operations=True)
        try:
            description: ConsumerGroupDescription = futures[group].result(timeout=timeout_s + 5)
        except KafkaException as error:
            if error.args[0].code() not in COORDINATOR_PENDING or time.monotonic() > deadline:
                raise
            time.sleep(RETRY_INTERVAL_S)
        else:
            return description


def check_written_topic(name: str, state: TopicState, plan: KafkaPlan) -> CheckResult | None:
    """A topic the relay writes exists and may be written; None when it does not exist and the relay may create it
    (``check_creatable`` decides)."""
    if isinstance(state, TopicDescription):
        if not _may(state.authorized_operations, AclOperation.WRITE):
            return failed(name, "exists, but the relay's principal may not write to it (grant WRITE on the topic)")
        return passed(name, "exists and may be written")
    if state.code() != KafkaError.UNKNOWN_TOPIC_OR_PART:
        return failed(name, _topic_error(state, "DESCRIBE and WRITE (and CREATE if the relay creates it)"))
    if not plan.create_topics:
        return failed(name, "does not exist and deadletter.create_topics is false: create it first")
    return None


def check_creatable(admin: AdminClient, written: WrittenTopic, plan: KafkaPlan, timeout_s: float) -> CheckResult:
    """The broker validates the creation the relay would make (``validate_only``: nothing is created)."""
    name, topic, partitions = written.name, written.topic, written.partitions
    if partitions is None:
        return failed(name, "does not exist, and its size follows the source topic, which cannot be read")
    try:
        new = NewTopic(topic, num_partitions=partitions, replication_factor=plan.replication_factor)
        admin.create_topics([new], validate_only=True, request_timeout=timeout_s)[topic].result(timeout=timeout_s + 5)
    except KafkaException as error:
        return failed(name, f"does not exist and may not be created: {_describe(error)} (grant CREATE on the topic)")
    return passed(name, f"does not exist; the relay will create it ({partitions} partitions; the broker allows it)")


def _may(operations: Collection[object] | None, operation: AclOperation) -> bool:
    # None: the broker reports no operations (no authorizer), so there is nothing to deny.
    return operations is None or operation in operations


def _partition_count(state: TopicState) -> int | None:
    return len(state.partitions) if isinstance(state, TopicDescription) else None


def _topic_error(error: KafkaError, acls: str) -> str:
    if error.code() == KafkaError.UNKNOWN_TOPIC_OR_PART:
        return "does not exist"
    if error.code() == KafkaError.TOPIC_AUTHORIZATION_FAILED:
        return f"the relay's principal may not describe it, or it does not exist (grant {acls} on the topic)"
    return f"could not be described: {error.name()}: {error.str()}"


def _describe(error: KafkaException) -> str:
    kafka_error = error.args[0]
    if isinstance(kafka_error, KafkaError):
        return f"{kafka_error.name()}: {kafka_error.str()}"
    return str(error)
