"""A record too large for its dead-letter topic (issue 13): it is dead-lettered in reduced form (context, size,
SHA-256 and where the original lies, without the value) and the partition's committed offset moves past it, instead
of the write being retried for as long as the service runs."""

from __future__ import annotations

import hashlib
import os
import time
from datetime import UTC, datetime

from confluent_kafka import Consumer, Producer, TopicPartition
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import (
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
)  # not re-exported for mypy; the public class

from bench.stack import SandboxProcess
from consumer.deadletter.record import parse_context, reduction
from consumer.demo.run import GRANTED, sample_message
from consumer.kafka.client import local_config
from consumer.model import SourceRef
from tests.integration.conftest import RelaySetup, RelaySetupFactory, consume_all
from tests.integration.dlq_incident import json_lines, run_cli

PREFIX = "tiktok.relay."
SOURCE_MAX_BYTES = 3_000_000
HUGE_VALUE = b"\x00" + os.urandom(1_000_004)
"""1,000,005 bytes: the Confluent magic byte, then garbage (the example config decodes plain Avro: malformed)."""


def set_max_message_bytes(admin: AdminClient, topic: str, size: int) -> None:
    entry = ConfigEntry("max.message.bytes", str(size), incremental_operation=AlterConfigOpType.SET)
    resource = ConfigResource("topic", topic, incremental_configs=[entry])
    for future in admin.incremental_alter_configs([resource]).values():
        future.result(timeout=30)


def max_message_bytes(admin: AdminClient, topic: str) -> int:
    [future] = admin.describe_configs([ConfigResource("topic", topic)]).values()
    return int(future.result(timeout=30)["max.message.bytes"].value)


def committed(setup: RelaySetup, topic: str) -> int:
    reader = Consumer({**local_config(setup.bootstrap_servers), "group.id": setup.data["kafka"]["group_id"]})
    try:
        [partition] = reader.committed([TopicPartition(topic, 0)], timeout=10)
        return partition.offset
    finally:
        reader.close()


def test_a_value_too_large_for_the_dead_letter_topic_is_dead_lettered_reduced_and_committed_past(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, admin: AdminClient
) -> None:
    """A 1,000,005-byte undecodable value (its topic and producer allow 3 MB) ends in a reduced dead letter: no
    value, a header naming what was left out, the value's size and SHA-256, the source topic, partition and
    offset. The good event after it is delivered and the group's committed offset reaches the end."""
    setup = relay_setup(partitions=1)
    topic = setup.topic("orders.paid")
    set_max_message_bytes(admin, topic, SOURCE_MAX_BYTES)
    setup.start_relay().wait_ready()
    producer = Producer({**local_config(setup.bootstrap_servers), "message.max.bytes": SOURCE_MAX_BYTES})
    producer.produce(topic, key=b"order-huge", value=HUGE_VALUE)
    good = sample_message(topic, "OrderPaid", f"after-huge-{time.time_ns()}", GRANTED, datetime.now(UTC))
    producer.produce(topic, key=good.key, value=good.value)
    assert producer.flush(30) == 0

    deadline = time.monotonic() + 90
    while committed(setup, topic) < 2 and time.monotonic() < deadline:
        time.sleep(0.5)

    assert committed(setup, topic) == 2
    assert max_message_bytes(admin, f"{topic}.dlq") >= SOURCE_MAX_BYTES
    [record] = consume_all(setup.bootstrap_servers, f"{topic}.dlq", expected=1)
    headers = record.headers() or []
    assert isinstance(headers, list)
    assert record.value() is None
    assert parse_context(headers, PREFIX).source == SourceRef(topic, 0, 0)
    reduced = reduction(headers, PREFIX)
    assert reduced is not None
    assert reduced.omitted == ("value",)
    assert reduced.value_size == len(HUGE_VALUE)
    assert reduced.value_sha256 == hashlib.sha256(HUGE_VALUE).hexdigest()

    code, out = run_cli("dlq", "inspect", "--config", str(setup.config_path), "--topic", f"{topic}.dlq", "--json")
    [inspection] = json_lines(out)
    assert (code, inspection["records"], inspection["reduced"]) == (0, 1, 1)
    assert inspection["samples"][0]["reduced"]["value_size"] == len(HUGE_VALUE)

    # A dry run reads the original back from the source topic (it still fails to decode: it is garbage)...
    code, out = run_cli(*replay_args(setup, topic))
    [report, _summary] = json_lines(out)
    assert (report["outcome"], report["source"]["offset"]) == ("would_fail_again", 0)

    # ...and once retention removed it, says that it is gone.
    for deleted in admin.delete_records([TopicPartition(topic, 0, 1)]).values():
        deleted.result(timeout=30)
    code, out = run_cli(*replay_args(setup, topic))
    [report, _summary] = json_lines(out)
    assert report["outcome"] == "original_gone"
    assert "offset 0 is gone" in report["detail"]


def replay_args(setup: RelaySetup, topic: str) -> list[str]:
    config = str(setup.config_path)
    return ["dlq", "replay", "--config", config, "--topic", f"{topic}.dlq", "--to", "tiktok", "--dry-run", "--json"]
