"""`tiktok-relay dlq inspect` on dead-letter topics the relay service filled with real failures (dlq_incident)."""

from __future__ import annotations

import json
from collections.abc import Callable

import pytest

from bench.stack import SandboxProcess
from consumer.times import parse_time_ms
from tests.integration.conftest import Outcomes, RelaySetup, RelaySetupFactory
from tests.integration.dlq_incident import LEADS, RELAY_OVERRIDES, Incident, fill_incident, run_cli

OutcomesFactory = Callable[[RelaySetup], Outcomes]


@pytest.fixture
def incident(relay_setup: RelaySetupFactory, sandbox: SandboxProcess, outcomes_of: OutcomesFactory) -> Incident:
    return fill_incident(relay_setup(partitions=2, **RELAY_OVERRIDES), sandbox, outcomes_of)


def test_inspect_summarises_by_reason_route_code_and_source_topic(incident: Incident) -> None:
    """The JSON summary counts each reason, route, TikTok code and source topic, with failure time bounds."""
    code, out = run_cli("dlq", "inspect", "--config", str(incident.config), "--topic", incident.dlq(LEADS), "--json")

    assert code == 0
    report = json.loads(out)
    by = {name: {row["value"]: row for row in rows} for name, rows in report["by"].items()}
    assert report["records"] == 11
    assert {reason: row["count"] for reason, row in by["reason"].items()} == {
        "tiktok_rejected": 3,
        "event_too_old": 2,
        "decode_malformed": 2,
        "retry_budget_exhausted": 4,
    }
    assert {value: row["count"] for value, row in by["route"].items()} == {"lead-submitted": 9, None: 2}
    assert {value: row["count"] for value, row in by["tiktok_code"].items()} == {"40002": 3, None: 8}
    assert {value: row["count"] for value, row in by["source_topic"].items()} == {incident.setup.topic(LEADS): 11}
    outage = by["reason"]["retry_budget_exhausted"]
    assert parse_time_ms(outage["oldest"]) >= incident.phase2_ms
    assert parse_time_ms(by["reason"]["tiktok_rejected"]["newest"]) < incident.phase2_ms
    assert parse_time_ms(report["oldest_failure"]) == min(parse_time_ms(r["oldest"]) for r in by["reason"].values())
    assert report["newest_failure"] == outage["newest"]


def test_inspect_samples_explain_the_failure_without_personal_data(incident: Incident) -> None:
    """Samples carry the reason, error and TikTok answer; neither the text nor the JSON output shows an
    e-mail address, phone number or click id of the customer."""
    args = ("dlq", "inspect", "--config", str(incident.config), "--topic", incident.dlq(LEADS), "--samples", "5")
    _, text = run_cli(*args)
    _, raw = run_cli(*args, "--json")

    samples = json.loads(raw)["samples"]
    rejected = next(s for s in samples if s["reason"] == "tiktok_rejected")
    assert rejected["tiktok_code"] == 40002 and "rejected by the sandbox" in rejected["tiktok_message"]
    assert rejected["record"]["lead_id"].startswith("id-")
    assert "Invalid value for data[0].event_id" in text
    for output in (text, raw):
        lowered = output.lower()
        for secret in ("jane.doe@example.com", "415-555-0132", "4155550132", "sample-ttclid", "203.0.113.7"):
            assert secret not in lowered, secret
