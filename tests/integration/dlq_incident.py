"""A realistic incident for the dead-letter tests: the relay service (a process, real broker, sandbox as TikTok)
fills the dead-letter topics with real failures, and the tests inspect and replay them.

Phase 1, with a bad mapping deployed (the order-paid route reads its event time from a misspelt field) and the
sandbox rejecting some event_ids with 40002: orders fail with ``mapping_error``, the rejected leads with
``tiktok_rejected`` (code 40002), leads 30 days old with ``event_too_old``, leads that are not Avro at all with
``decode_malformed`` (no route, no event time); the other leads are delivered.
Phase 2, a TikTok outage (HTTP 503) longer than the retry budget: leads fail with ``retry_budget_exhausted``.
Then the causes are fixed: the sandbox answers normally again, and the correct mapping is the setup's config.
"""

from __future__ import annotations

import copy
import io
import json
import time
import uuid
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from bench.stack import SandboxProcess
from consumer.cli import main as cli_main
from consumer.demo.run import GRANTED, MALFORMED, TOO_OLD, Produced, produce, sample_message
from consumer.kafka.bounded import BoundedReader
from consumer.kafka.client import local_config, reader_config
from consumer.model import SourceRef
from tests.integration.conftest import Outcomes, RelayProcess, RelaySetup
from tools.kafka_broker import free_port

ORDERS = "orders.paid"
LEADS = "leads.submitted"

MAPPING = "mapping"
REJECTED = "rejected"
OLD = "too_old"
OUTAGE = "outage"
BAD_BYTES = "malformed"
DELIVERED = "delivered"

RELAY_OVERRIDES: dict[str, Any] = {
    # A short retry budget, so the outage outlasts it in a second or two.
    "tiktok": {"retry_max_attempts": 2, "retry_base_ms": 50, "retry_max_backoff_s": 0.2},
}


@dataclass
class Incident:
    """The setup, what was produced (by kind) and when phase 2 began."""

    setup: RelaySetup
    sandbox: SandboxProcess
    produced: dict[str, list[Produced]]
    phase2_ms: int

    def dlq(self, source: str) -> str:
        return self.setup.topic(source) + ".dlq"

    def refs(self, *kinds: str) -> set[SourceRef]:
        return {p.ref for kind in kinds for p in self.produced[kind]}

    def event_ids(self, *kinds: str) -> set[str]:
        return {p.event_id for kind in kinds for p in self.produced[kind] if p.event_id is not None}

    @property
    def config(self) -> Path:
        """The fixed config (the example mapping)."""
        return self.setup.config_path


def broken_config(setup: RelaySetup) -> Path:
    """The setup's config with the order-paid route's event time read from a field that does not exist."""
    data = copy.deepcopy(setup.data)
    for route in data["routes"]:
        if route["name"] == "order-paid":
            route["event_time"] = "occurred_on"
    path = setup.config_path.with_name(f"{setup.namespace}-broken.yaml")
    path.write_text(yaml.safe_dump(data))
    return path


def start_relay(setup: RelaySetup, config: Path) -> RelayProcess:
    """A relay on ``config``, killed with the setup's other relays when the test ends."""
    relay = RelayProcess(config, free_port(), config.with_name(f"relay-{uuid.uuid4().hex[:6]}.log"))
    setup.relays.append(relay)
    return relay.start().wait_ready()


def produce_kind(setup: RelaySetup, topic: str, schema: str, kind: str, count: int) -> list[Produced]:
    now = datetime.now(UTC)
    tag = uuid.uuid4().hex[:8]
    messages = [sample_message(setup.topic(topic), schema, f"{tag}-{i}", kind, now) for i in range(count)]
    return produce(setup.bootstrap_servers, messages)


def wait_dead_lettered(outcomes: Outcomes, produced: list[Produced], timeout_s: float = 60.0) -> None:
    """Wait until every one of ``produced`` is in a dead-letter topic."""
    refs = {p.ref for p in produced}
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        outcomes.reader.poll()
        if refs <= set(outcomes.reader.dead_lettered):
            return
        time.sleep(0.2)
    raise AssertionError(f"{len(refs - set(outcomes.reader.dead_lettered))} messages were not dead-lettered")


def fill_incident(
    setup: RelaySetup, sandbox: SandboxProcess, outcomes_of: Callable[[RelaySetup], Outcomes]
) -> Incident:
    """Run the two phases of the module docstring with a relay on the broken config, then fix the causes."""
    relay = start_relay(setup, broken_config(setup))
    tag = uuid.uuid4().hex[:8]
    rejected_ids = [f"{tag}-rejected-{i}" for i in range(3)]
    sandbox.set_faults(reject_event_ids=rejected_ids)
    now = datetime.now(UTC)
    produced: dict[str, list[Produced]] = {
        MAPPING: produce_kind(setup, ORDERS, "OrderPaid", GRANTED, 6),
        REJECTED: produce(
            setup.bootstrap_servers,
            [sample_message(setup.topic(LEADS), "LeadSubmitted", i, GRANTED, now) for i in rejected_ids],
        ),
        OLD: produce_kind(setup, LEADS, "LeadSubmitted", TOO_OLD, 2),
        BAD_BYTES: produce_kind(setup, LEADS, "LeadSubmitted", MALFORMED, 2),
        DELIVERED: produce_kind(setup, LEADS, "LeadSubmitted", GRANTED, 3),
    }
    outcomes = outcomes_of(setup)
    wait_dead_lettered(outcomes, [*produced[MAPPING], *produced[REJECTED], *produced[OLD], *produced[BAD_BYTES]])
    time.sleep(0.01)  # phase 2 failures are strictly later
    phase2_ms = time.time_ns() // 1_000_000
    sandbox.set_faults(outages=[{"duration_s": 3600, "http_status": 503}])
    produced[OUTAGE] = produce_kind(setup, LEADS, "LeadSubmitted", GRANTED, 4)
    wait_dead_lettered(outcomes, produced[OUTAGE])
    sandbox.set_faults()
    assert relay.terminate() == 0
    return Incident(setup, sandbox, produced, phase2_ms)


def run_cli(*args: str) -> tuple[int, str]:
    """``tiktok-relay`` in this process; the exit code and stdout."""
    out = io.StringIO()
    with redirect_stdout(out):
        code = cli_main(list(args))
    return code, out.getvalue()


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def source_ref(report: dict[str, Any]) -> SourceRef:
    source = report["source"]
    return SourceRef(source["topic"], source["partition"], source["offset"])


def end_offsets(bootstrap_servers: str, topic: str) -> dict[int, int]:
    """The high watermark of each partition of ``topic``."""
    with reader(bootstrap_servers, f"probe-{uuid.uuid4().hex[:8]}") as probe:
        return {p: probe.watermarks(topic, p)[1] for p in probe.partitions(topic)}


def committed_offsets(bootstrap_servers: str, group: str, topic: str) -> dict[int, int]:
    """The offsets ``group`` committed on ``topic`` (partitions without a commit are left out)."""
    with reader(bootstrap_servers, group) as probe:
        return probe.committed(topic, probe.partitions(topic))


def audit_records(
    bootstrap_servers: str, replay: str, topic: str = "tiktok-relay.replay-audit"
) -> list[dict[str, Any]]:
    """The replay audit records of replay id ``replay``, oldest first (none when the topic does not exist)."""
    with reader(bootstrap_servers, f"audit-{uuid.uuid4().hex[:8]}") as audits:
        partitions = audits.existing().get(topic)
        if partitions is None:
            return []
        return [
            json.loads(message.value() or b"{}")
            for batch in audits.read(audits.to_end(topic, partitions), idle_limit_s=30)
            for message in batch
            if message.key() == replay.encode()
        ]


def reader(bootstrap_servers: str, group: str) -> BoundedReader:
    return BoundedReader(reader_config(local_config(bootstrap_servers), group))
