"""Consent withdrawn after the event, on the real broker: the relay reads the compacted consent topic as a table
and checks it just before each send, retry and direct replay. A withdrawn subject's event reaches no request; it
gets one consent audit record instead (reason ``consent_withdrawn_later``) and its offset settles."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import yaml

from bench.stack import SandboxProcess, read_topic
from consumer.consent_table.table import CONSENT_WITHDRAWN_LATER
from consumer.deadletter.settings import DeadLetterSettings
from consumer.demo.run import (
    Produced,
    create_topics,
    order_about,
    produce,
    publish_consent,
    with_consent_table,
)
from tests.integration.conftest import Outcomes, RelayProcess, RelaySetup, RelaySetupFactory
from tests.integration.dlq_incident import RELAY_OVERRIDES, json_lines, run_cli
from tests.integration.test_service_resilience import wait_until

OutcomesFactory = Callable[[RelaySetup], Outcomes]
OUTAGE = {"outages": [{"start_s": 0, "duration_s": 3600, "http_status": 503}]}
WITHDRAWN = {"marketing": "DENIED", "analytics": "GRANTED"}


def consent_setup(relay_setup: RelaySetupFactory, *, create_topic: bool = True, **overrides: Any) -> RelaySetup:
    """A relay setup whose config reads a consent table (``<namespace>.consent``, compacted, 2 partitions)."""
    setup = relay_setup(partitions=2, **overrides)
    setup.data = with_consent_table(setup.data, consent_topic(setup), lag_interval_s=0.2)
    setup.config_path.write_text(yaml.safe_dump(setup.data))
    if create_topic:
        create_topics(setup.bootstrap_servers, [consent_topic(setup)], 2, compacted=True)
    return setup


def consent_topic(setup: RelaySetup) -> str:
    return setup.topic("consent")


def orders(setup: RelaySetup, customers: list[str], occurred_at: datetime | None = None) -> list[Produced]:
    """One granted OrderPaid per customer (event_id ``<customer>-order``), produced now."""
    moment = occurred_at or datetime.now(UTC)
    topic = setup.topic("orders.paid")
    return produce(setup.bootstrap_servers, [order_about(topic, f"{c}-order", c, moment) for c in customers])


def customers(count: int) -> list[str]:
    tag = uuid.uuid4().hex[:6]
    return [f"cust-{tag}-{i}" for i in range(count)]


def metric_total(relay: RelayProcess, name: str) -> float:
    """The sum of every series of ``name`` (0 when absent)."""
    pattern = rf"^{name}(?:{{[^}}]*}})? (\S+)$"
    return sum(float(value) for value in re.findall(pattern, relay.metrics(), re.MULTILINE))


def audit_of(setup: RelaySetup, event_id: str) -> list[dict[str, Any]]:
    """Every consent audit record of ``event_id`` now in the audit topic."""
    topic = DeadLetterSettings(**setup.data.get("deadletter", {})).audit_topic
    records = [json.loads(value or b"{}") for _key, value in read_topic(setup.bootstrap_servers, topic)]
    return [r for r in records if r["event_id"] == event_id]


def readiness(relay: RelayProcess) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{relay.http_port}/readyz", timeout=2) as response:
            return dict(json.loads(response.read()))
    except urllib.error.HTTPError as error:
        return dict(json.loads(error.read()))


def test_a_withdrawal_during_an_outage_withholds_the_event_at_its_retry(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory
) -> None:
    """Orders are sent while TikTok is down (503, retried); one customer withdraws marketing consent during the
    outage. When TikTok is back the other orders are delivered; the withdrawn one is in no request, has exactly
    one audit record saying it was withdrawn later, and nothing is lost."""
    setup = consent_setup(relay_setup)
    relay = setup.start_relay().wait_ready()
    sandbox.set_faults(**OUTAGE)
    people = customers(6)
    produced = orders(setup, people)
    wait_until(lambda: metric_total(relay, "tiktok_relay_retries_total") > 0, 60, "sends failing in the outage")

    publish_consent(setup.bootstrap_servers, consent_topic(setup), {people[2]: WITHDRAWN}, datetime.now(UTC))
    wait_until(lambda: metric_total(relay, "tiktok_relay_consent_subjects") == 1, 30, "the table to read it")
    sandbox.set_faults()
    summary = outcomes_of(setup).wait_all(produced, timeout_s=60)

    assert (summary.delivered, summary.consent_dropped, summary.lost) == (5, 1, 0)
    assert sandbox.event_ids() == {f"{c}-order" for c in people if c != people[2]}
    (audit,) = audit_of(setup, f"{people[2]}-order")
    assert (audit["reason"], audit["route"], audit["event"]) == (CONSENT_WITHDRAWN_LATER, "order-paid", "Purchase")
    assert metric_total(relay, "tiktok_relay_withheld_at_send_total") == 1


def test_a_restart_rebuilds_the_table_from_the_topic_before_sending(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory
) -> None:
    """A withdrawal read by one relay process is known to the next one from the topic alone: orders waiting in
    Kafka when it starts are checked against the rebuilt table (a tombstone forgets a subject again)."""
    setup = consent_setup(relay_setup)
    people = customers(4)
    now = datetime.now(UTC)
    publish_consent(setup.bootstrap_servers, consent_topic(setup), {people[0]: WITHDRAWN, people[3]: WITHDRAWN}, now)
    publish_consent(setup.bootstrap_servers, consent_topic(setup), {people[3]: None}, now)
    first = setup.start_relay().wait_ready()
    assert first.terminate() == 0

    produced = orders(setup, people, occurred_at=now - timedelta(minutes=5))
    second = setup.start_relay().wait_ready()
    summary = outcomes_of(setup).wait_all(produced, timeout_s=60)

    assert (summary.delivered, summary.consent_dropped, summary.lost) == (3, 1, 0)
    assert f"{people[0]}-order" not in sandbox.event_ids()
    (audit,) = audit_of(setup, f"{people[0]}-order")
    assert audit["reason"] == CONSENT_WITHDRAWN_LATER
    assert "consent_table_caught_up" in second.log_path.read_text()


def test_nothing_is_sent_until_the_table_has_caught_up_and_readiness_says_why(
    relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory
) -> None:
    """While the consent topic cannot be read (here: it does not exist yet) the relay consumes nothing, sends
    nothing and /readyz answers 503 naming consent_table_caught_up; once it can, everything flows."""
    setup = consent_setup(relay_setup, create_topic=False)
    relay = setup.start_relay()
    wait_until(lambda: "consent_table_topic_missing" in relay.log_path.read_text(), 60, "the missing-topic warning")
    produced = orders(setup, customers(3))
    wait_until(lambda: relay.status("/readyz") == 503, 30, "readiness to answer")

    assert readiness(relay)["consent_table_caught_up"] is False
    assert readiness(relay)["assigned"] is False
    assert sandbox.event_ids() == set()
    create_topics(setup.bootstrap_servers, [consent_topic(setup)], 2, compacted=True)
    relay.wait_ready()
    summary = outcomes_of(setup).wait_all(produced, timeout_s=60)
    assert (summary.delivered, summary.lost) == (3, 0)


def test_a_withdrawal_before_a_direct_replay_withholds_the_event(
    relay_setup: RelaySetupFactory,
    sandbox: SandboxProcess,
    outcomes_of: OutcomesFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Orders dead-lettered in an outage (retry budget used up); one customer withdraws; `dlq replay --to tiktok`
    reads the table first, sends the others and audits the withdrawn one: no request carries it."""
    monkeypatch.setenv("TIKTOK_ACCESS_TOKEN", "test-token")
    setup = consent_setup(relay_setup, **RELAY_OVERRIDES)
    setup.start_relay().wait_ready()
    sandbox.set_faults(**OUTAGE)
    people = customers(4)
    produced = orders(setup, people)
    outcomes = outcomes_of(setup)
    wait_until(lambda: outcomes.summary(produced).dead_lettered == 4, 60, "the orders to be dead-lettered")
    publish_consent(setup.bootstrap_servers, consent_topic(setup), {people[1]: WITHDRAWN}, datetime.now(UTC))
    sandbox.set_faults()

    dlq = DeadLetterSettings(**setup.data.get("deadletter", {})).dead_letter_topic(setup.topic("orders.paid"))
    code, out = run_cli("dlq", "replay", "--config", str(setup.config_path), "--topic", dlq, "--to", "tiktok", "--json")
    reports = json_lines(out)[:-1]

    assert code == 0
    withheld = [r for r in reports if r["outcome"] == "consent_withheld"]
    assert [(r["event_id"], r["detail"]) for r in withheld] == [(f"{people[1]}-order", CONSENT_WITHDRAWN_LATER)]
    assert sandbox.event_ids() == {f"{c}-order" for c in people if c != people[1]}
    (audit,) = audit_of(setup, f"{people[1]}-order")
    assert audit["reason"] == CONSENT_WITHDRAWN_LATER
