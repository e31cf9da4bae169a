"""`tiktok-relay run` end to end: real broker, the sandbox as TikTok, the example config, the service as a process.

Every test produces its own events to fresh topics and checks where they ended: the sandbox (delivered), the
dead-letter topic or the consent-audit topic.
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from confluent_kafka import Consumer, Message, TopicPartition

from bench.stack import SandboxProcess
from consumer.deadletter.record import original_headers, parse_context
from consumer.demo.run import CONSENT_DROPPED, DELIVERED, DENIED, GRANTED, MALFORMED, Produced, produce, sample_message
from consumer.kafka.client import local_config
from consumer.model import SourceRef
from tests.integration.conftest import (
    Outcomes,
    RelaySetup,
    RelaySetupFactory,
    consume_all,
)

OutcomesFactory = Callable[[RelaySetup], Outcomes]
PREFIX = "tiktok.relay."


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def raw_headers(message: Message) -> list[tuple[str, str | bytes | None]]:
    headers = message.headers() or []
    assert isinstance(headers, list)
    return headers


def produce_kinds(setup: RelaySetup, topic: str, schema: str, kinds: list[str]) -> list[Produced]:
    """Produce one sample per entry of ``kinds`` to the namespaced ``topic``."""
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:6]
    messages = [sample_message(setup.topic(topic), schema, f"{tag}-{i}", kind, now) for i, kind in enumerate(kinds)]
    return produce(setup.bootstrap_servers, messages)


def test_events_are_delivered_with_their_mapped_payload(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory
) -> None:
    """Granted OrderPaid events reach TikTok as Purchase events with hashed identifiers and the order's values."""
    setup = relay_setup()
    setup.start_relay().wait_ready()
    produced = produce_kinds(setup, "orders.paid", "OrderPaid", [GRANTED] * 30)

    summary = outcomes_of(setup).wait_all(produced)

    assert (summary.delivered, summary.lost) == (30, 0)
    [received] = sandbox.get(f"/_sandbox/events?event_id={produced[0].event_id}")["events"]
    assert received["event_source_id"] == "CEXAMPLEPIXELMAIN001"
    event = received["event"]
    assert event["event"] == "Purchase"
    assert event["user"]["email"] == sha256("jane.doe@example.com")
    assert event["user"]["phone"] == sha256("+14155550132")
    assert event["properties"]["value"] == 51.8
    assert event["properties"]["currency"] == "USD"
    assert event["properties"]["order_id"] == f"id-{produced[0].event_id}"
    assert [c["content_id"] for c in event["properties"]["contents"]] == ["SKU-TEE-01", "SKU-MUG-02"]


def test_app_orders_reach_tiktok_as_app_events(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory
) -> None:
    """Granted in-app orders produced to Kafka are accepted by the sandbox as event_source app events for the TikTok
    app of their platform, with normalised device ids, ATT status, app context and ad callback."""
    setup = relay_setup()
    setup.start_relay().wait_ready()
    produced = produce_kinds(setup, "app.orders.paid", "InAppOrderPaid", [GRANTED] * 10)

    summary = outcomes_of(setup).wait_all(produced)

    assert (summary.delivered, summary.app_orders, summary.app_delivered, summary.lost) == (10, 10, 10, 0)
    [received] = sandbox.get(f"/_sandbox/events?event_id={produced[0].event_id}")["events"]
    assert (received["event_source"], received["event_source_id"]) == ("app", "7400000000000000101")
    event = received["event"]
    assert event["event"] == "Purchase"
    assert event["user"]["idfa"] == "6d92078a-8246-4ba4-ae5b-76104861e7dc"
    assert event["user"]["att_status"] == "AUTHORIZED"
    assert event["user"]["email"] == sha256("jane.doe@example.com")
    assert event["app"] == {"app_id": "id6448311069", "app_name": "Example Shop", "app_version": "5.2.0"}
    assert event["ad"] == {"callback": "E.C.P.sample-callback-3001"}
    assert event["limited_data_use"] is False
    assert event["properties"]["order_id"] == f"id-{produced[0].event_id}"


def test_poison_messages_are_dead_lettered_with_original_bytes_while_the_rest_flows(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory
) -> None:
    """Malformed messages land in <topic>.dlq with key, value, headers, timestamp and partition unchanged and the
    decode context in headers; the good messages around them are delivered."""
    setup = relay_setup()
    setup.start_relay().wait_ready()
    kinds = [MALFORMED if i % 4 == 0 else GRANTED for i in range(40)]
    produced = produce_kinds(setup, "leads.submitted", "LeadSubmitted", kinds)

    summary = outcomes_of(setup).wait_all(produced)

    assert (summary.delivered, summary.dead_lettered, summary.lost) == (30, 10, 0)
    source = {
        SourceRef(m.topic() or "", m.partition() or 0, m.offset() or 0): m
        for m in consume_all(setup.bootstrap_servers, setup.topic("leads.submitted"), expected=40)
    }
    dead = consume_all(setup.bootstrap_servers, setup.topic("leads.submitted") + ".dlq", expected=10)
    assert len(dead) == 10
    for record in dead:
        context = parse_context(raw_headers(record), PREFIX)
        original = source[context.source]
        assert (record.key(), record.value()) == (original.key(), original.value())
        assert original_headers(raw_headers(record), PREFIX) == original.headers()
        assert record.timestamp() == original.timestamp()
        assert record.partition() == original.partition()
        assert (context.failure.stage, context.failure.reason) == ("decode", "decode_malformed")


def test_consent_denied_events_are_audited_and_never_sent(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory
) -> None:
    """Events with marketing consent denied are not sent; each has one audit record, without personal data."""
    setup = relay_setup()
    setup.start_relay().wait_ready()
    kinds = [DENIED if i % 2 else GRANTED for i in range(20)]
    produced = produce_kinds(setup, "orders.paid", "OrderPaid", kinds)

    outcomes = outcomes_of(setup)
    summary = outcomes.wait_all(produced)

    assert (summary.delivered, summary.consent_dropped, summary.lost) == (10, 10, 0)
    denied = {p.event_id for p in produced if p.expect == CONSENT_DROPPED}
    assert not denied & sandbox.event_ids()
    records = list(outcomes.reader.audited.values())
    assert {r["event_id"] for r in records} == denied
    assert set(records[0]) == {
        "event_id",
        "route",
        "event",
        "reason",
        "decided_at",
        "source_topic",
        "source_partition",
        "source_offset",
    }
    assert (records[0]["route"], records[0]["event"]) == ("order-paid", "Purchase")


def test_health_endpoints_report_liveness_readiness_and_metrics(
    relay_setup: RelaySetupFactory, outcomes_of: OutcomesFactory
) -> None:
    """/livez and /readyz answer 200 once the relay is assigned; /metrics counts what it consumed and settled."""
    setup = relay_setup()
    relay = setup.start_relay().wait_ready()
    produced = produce_kinds(setup, "orders.paid", "OrderPaid", [GRANTED] * 5)
    outcomes_of(setup).wait_all(produced)

    assert relay.status("/livez") == 200
    assert relay.status("/readyz") == 200
    settled = f'tiktok_relay_settled_total{{outcome="{DELIVERED}",topic="{setup.topic("orders.paid")}"}} 5.0'
    metrics = relay.wait_metrics_line(settled)
    assert f'tiktok_relay_consumed_total{{topic="{setup.topic("orders.paid")}"}} 5.0' in metrics
    assert settled in metrics
    assert "tiktok_relay_request_seconds_bucket" in metrics


def test_sigterm_drains_in_flight_work_commits_and_exits_zero(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory
) -> None:
    """SIGTERM while requests are in flight (TikTok answers slowly): the relay finishes them, commits every
    partition up to its end and exits 0."""
    setup = relay_setup()
    relay = setup.start_relay().wait_ready()
    sandbox.set_faults(latency_ms=1500)
    produced = produce_kinds(setup, "orders.paid", "OrderPaid", [GRANTED] * 200)
    deadline = time.monotonic() + 30
    while "tiktok_relay_in_flight_requests 0.0" in relay.metrics() and time.monotonic() < deadline:
        time.sleep(0.05)  # wait until a request is in flight

    assert relay.terminate() == 0

    summary = outcomes_of(setup).summary(produced)
    assert (summary.delivered, summary.lost) == (200, 0)
    assert "relay_stopped" in relay.log_tail()
    topic = setup.topic("orders.paid")
    reader = Consumer({**local_config(setup.bootstrap_servers), "group.id": setup.data["kafka"]["group_id"]})
    try:
        partitions = [TopicPartition(topic, p) for p in range(3)]
        committed = {tp.partition: tp.offset for tp in reader.committed(partitions, timeout=10)}
        ends = {p: reader.get_watermark_offsets(TopicPartition(topic, p), timeout=10)[1] for p in range(3)}
    finally:
        reader.close()
    assert committed == ends
