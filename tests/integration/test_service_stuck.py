"""A stuck partition (issue 13): one message whose dead-letter write cannot complete for now (its dead-letter
topic is gone for a while: Kafka answers UNKNOWN_TOPIC_OR_PART, which the relay retries) holds its partition's
commits. The relay pauses that partition once the span it tracks behind the message reaches
``kafka.max_partition_span``, exports the message's age, and goes on once the write succeeds: nothing lost."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from bench.stack import SandboxProcess
from consumer.demo.run import GRANTED, MALFORMED, produce, sample_message
from consumer.kafka.topics import TopicSpec, create_topics
from tests.integration.conftest import Outcomes, RelayProcess, RelaySetup, RelaySetupFactory

OutcomesFactory = Callable[[RelaySetup], Outcomes]
SPAN = 200


def delete_topic(admin: AdminClient, topic: str) -> None:
    for future in admin.delete_topics([topic]).values():
        future.result(timeout=30)


def create_topic(admin: AdminClient, topic: str) -> None:
    """Create ``topic`` (1 partition), retrying while the broker still finishes deleting its namesake."""
    deadline = time.monotonic() + 60
    while True:
        try:
            create_topics(admin, {topic: TopicSpec()})
            return
        except KafkaException:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)


def sample(relay: RelayProcess, name: str, labels: str = "") -> float:
    """One sample of ``name`` (with exactly ``labels``, in name order: ``partition="0",topic="t"``); 0 if absent."""
    pattern = rf"^tiktok_relay_{name}" + (rf"\{{{re.escape(labels)}\}}" if labels else "") + r" (\S+)$"
    match = re.search(pattern, relay.metrics(), re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def wait_until(condition: Callable[[], bool], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_partition_stuck_behind_one_message_is_paused_at_its_span_and_shows_the_message_age(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, admin: AdminClient, outcomes_of: OutcomesFactory
) -> None:
    """The malformed first message cannot be dead-lettered while its dead-letter topic is gone: the 2,000 good
    messages behind it are delivered but cannot be committed. The oldest-unsettled-age gauge names the partition,
    which is paused with about ``SPAN`` (plus a consume batch) of them consumed; once the topic is back, everything is
    consumed, settled and accounted for, the partition resumes and the gauge is back to 0."""
    setup = relay_setup(
        partitions=1,
        kafka={"max_partition_span": SPAN},
        # Notice the re-created topic within a second, and hand a write back for a retry every 5 s meanwhile.
        deadletter={"producer": {"topic.metadata.refresh.interval.ms": 1000, "message.timeout.ms": 5000}},
    )
    topic = setup.topic("orders.paid")
    relay = setup.start_relay().wait_ready()
    delete_topic(admin, f"{topic}.dlq")
    now, tag = datetime.now(UTC), uuid.uuid4().hex[:6]
    kinds = [MALFORMED] + [GRANTED] * 2000
    messages = [sample_message(topic, "OrderPaid", f"{tag}-{i}", kind, now) for i, kind in enumerate(kinds)]
    produced = produce(setup.bootstrap_servers, messages)
    labels = f'partition="0",topic="{topic}"'

    wait_until(lambda: sample(relay, "oldest_unsettled_age_seconds", labels) >= 3, 60, "the stuck message's age")
    wait_until(lambda: sample(relay, "paused_partitions") == 1, 30, "the stuck partition to be paused")
    consumed = sample(relay, "consumed_total", f'topic="{topic}"')
    assert SPAN <= consumed < len(kinds)
    time.sleep(3)  # paused: nothing more is consumed while the message is stuck
    assert sample(relay, "consumed_total", f'topic="{topic}"') == consumed
    assert sample(relay, "paused_partitions") == 1

    create_topic(admin, f"{topic}.dlq")
    summary = outcomes_of(setup).wait_all(produced, timeout_s=120)
    assert (summary.delivered, summary.dead_lettered, summary.lost) == (2000, 1, 0)
    wait_until(lambda: sample(relay, "paused_partitions") == 0, 30, "the partition to be released")
    wait_until(lambda: sample(relay, "oldest_unsettled_age_seconds", labels) == 0, 30, "the age to clear")
