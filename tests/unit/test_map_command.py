"""`tiktok-relay map`: the request body, or the decision that stops it, for one domain event."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import orjson
import pytest

from consumer.cli import main
from consumer.commands.map import ExitCode
from consumer.demo.samples import SAMPLE_TIME, encode, sample_record
from consumer.sandbox.validate import validate_envelope, validate_events

EXAMPLE_CONFIG = str(Path(__file__).resolve().parents[2] / "config" / "relay.example.yaml")
NOW = "2025-01-15T12:31:00Z"  # a minute after the samples' occurred_at
REFERENCE_EVENTS = [
    ("OrderPaid", "orders.paid", {}),
    ("OrderPlaced", "orders.placed", {}),
    ("LeadSubmitted", "leads.submitted", {}),
    ("LeadStatusChanged", "crm.lead-status", {"stage": "QUALIFIED"}),
    ("LeadStatusChanged", "crm.lead-status", {"stage": "CONVERTED"}),
    ("InAppOrderPaid", "app.orders.paid", {}),
]


def as_json(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(type(value).__name__)


def write_json(tmp_path: Path, schema: str, **overrides: Any) -> str:
    path = tmp_path / "event.json"
    path.write_text(json.dumps(sample_record(schema, **overrides), default=as_json))
    return str(path)


def write_avro(tmp_path: Path, schema: str, **overrides: Any) -> str:
    path = tmp_path / "event.avro"
    path.write_bytes(encode(schema, sample_record(schema, **overrides)))
    return str(path)


def run_map(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, Any, str]:
    code = main(["map", "--config", EXAMPLE_CONFIG, "--now", NOW, *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


@pytest.mark.parametrize(("schema", "topic", "overrides"), REFERENCE_EVENTS)
def test_reference_json_event_prints_a_valid_body(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schema: str, topic: str, overrides: dict[str, Any]
) -> None:
    """Each reference event, as JSON, gives exit 0 and a body the TikTok double accepts."""
    code, body, _ = run_map(capsys, "--topic", topic, write_json(tmp_path, schema, **overrides))
    assert code == ExitCode.SENT
    assert validate_envelope(body) is None
    assert validate_events(body["event_source"], body["data"]) is None


@pytest.mark.parametrize(("schema", "topic", "overrides"), REFERENCE_EVENTS)
def test_reference_avro_event_prints_a_valid_body(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], schema: str, topic: str, overrides: dict[str, Any]
) -> None:
    """With --avro, the raw Kafka value bytes are decoded as the service decodes the topic, then mapped."""
    code, body, _ = run_map(capsys, "--topic", topic, "--avro", write_avro(tmp_path, schema, **overrides))
    assert code == ExitCode.SENT
    assert validate_envelope(body) is None
    assert validate_events(body["event_source"], body["data"]) is None


def test_json_and_avro_inputs_give_the_same_body(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A JSON record and its Avro encoding map to the same request body."""
    _, from_json, _ = run_map(capsys, "--topic", "orders.paid", write_json(tmp_path, "OrderPaid"))
    _, from_avro, _ = run_map(capsys, "--topic", "orders.paid", "--avro", write_avro(tmp_path, "OrderPaid"))
    assert from_json == from_avro


def test_body_shape(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The body is {event_source, event_source_id, data: [event]} with the event's mapped fields."""
    _, body, err = run_map(capsys, "--topic", "orders.paid", write_json(tmp_path, "OrderPaid"))
    assert (body["event_source"], body["event_source_id"]) == ("web", "CEXAMPLEPIXELMAIN001")
    [event] = body["data"]
    assert (event["event"], event["event_id"], event["event_time"]) == ("Purchase", "evt-paid-1001", 1736944200)
    assert "route=order-paid" in err and "event_id_origin=record" in err


def test_compact_prints_the_exact_bytes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--compact prints the body byte for byte as the sender would send it (one line, no spaces)."""
    event = write_json(tmp_path, "OrderPaid")
    main(["map", "--config", EXAMPLE_CONFIG, "--now", NOW, "--compact", "--topic", "orders.paid", event])
    out = capsys.readouterr().out
    assert out.count("\n") == 1 and out.startswith('{"event_source":"web",')
    assert orjson.loads(out)["data"][0]["event"] == "Purchase"


def test_consent_denied_prints_the_audit_record(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Denied consent exits 3 and prints the audit decision instead of a body."""
    denied = {"marketing": "DENIED", "analytics": "GRANTED", "limited_data_use": None}
    code, out, _ = run_map(capsys, "--topic", "orders.paid", write_json(tmp_path, "OrderPaid", consent=denied))
    assert code == ExitCode.CONSENT_WITHHELD
    assert out == {
        "decision": "withheld",
        "route": "order-paid",
        "event": "Purchase",
        "event_id": "evt-paid-1001",
        "reason": "consent_denied",
        "decided_at_ms": int(SAMPLE_TIME.timestamp() * 1000) + 59_750,
    }


def test_old_event_is_a_policy_rejection(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Without --now the samples (January 2025) are too old: exit 4 with reason event_too_old."""
    code = main(["map", "--config", EXAMPLE_CONFIG, "--topic", "orders.paid", write_json(tmp_path, "OrderPaid")])
    out = json.loads(capsys.readouterr().out)
    assert code == ExitCode.POLICY_REJECTED
    assert (out["decision"], out["stage"], out["reason"], out["route"]) == (
        "rejected",
        "policy",
        "event_too_old",
        "order-paid",
    )


def test_unrouted_record_is_not_mappable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A record type no route of the topic selects, and no skip rule takes, exits 5 with reason no_route."""
    record = write_json(tmp_path, "LeadSubmitted")
    schema = "com.example.crm.LeadSubmitted"
    code, out, _ = run_map(capsys, "--topic", "crm.lead-status", "--schema", schema, record)
    assert (code, out["stage"], out["reason"]) == (ExitCode.NOT_MAPPABLE, "map", "no_route")


def test_skipped_record_exits_7_naming_the_rule(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A CRM stage the reference skip rule takes exits 7 with the rule's name."""
    record = write_json(tmp_path, "LeadStatusChanged", stage="LOST")
    code, out, _ = run_map(capsys, "--topic", "crm.lead-status", record)
    assert (code, out) == (ExitCode.SKIPPED, {"decision": "skipped", "rule": "lead-stage-not-reported"})


def test_dropped_identifier_is_noted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unparseable phone is named on stderr; the body is still printed."""
    customer = {**sample_record("OrderPaid")["customer"], "phone": "n/a"}
    code, body, err = run_map(capsys, "--topic", "orders.paid", write_json(tmp_path, "OrderPaid", customer=customer))
    assert code == ExitCode.SENT and "phone" not in body["data"][0]["user"]
    assert "note: phone dropped (unparseable)" in err


def test_invalid_json_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Input that is not JSON exits 6 without quoting it."""
    path = tmp_path / "event.json"
    path.write_text("{jane@example.com")
    code, _, err = run_map(capsys, "--topic", "orders.paid", str(path))
    assert code == ExitCode.BAD_INPUT and "jane" not in err


def test_undecodable_avro_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Bytes the topic's schema cannot decode exit 6."""
    path = tmp_path / "event.avro"
    path.write_bytes(b"\x02")
    code, _, _ = run_map(capsys, "--topic", "orders.paid", "--avro", str(path))
    assert code == ExitCode.BAD_INPUT


def test_invalid_config_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A config error exits 2 and names the route and key on stderr."""
    config = tmp_path / "relay.yaml"
    config.write_text(
        "kafka: {bootstrap_servers: x}\nroutes:\n  - {name: r, topic: t, event: purchase, event_source_id: C,"
        " event_id: id, event_time: at, consent: c}\n"
    )
    code = main(["map", "--config", str(config), "--topic", "t", write_json(tmp_path, "OrderPaid")])
    assert code == ExitCode.USAGE
    assert "route 'r': event: 'purchase' differs" in capsys.readouterr().err


def test_app_order_body(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An in-app order becomes an app event: the TikTok App ID, device ids, app context and ad callback."""
    code, body, err = run_map(capsys, "--topic", "app.orders.paid", write_json(tmp_path, "InAppOrderPaid"))
    assert code == ExitCode.SENT
    assert (body["event_source"], body["event_source_id"]) == ("app", "7400000000000000101")
    [event] = body["data"]
    assert event["app"]["app_id"] == "id6448311069"
    assert set(event["user"]) >= {"idfa", "idfv", "att_status", "email"}
    assert event["ad"]["callback"]
    assert "route=app-order-paid event_source=app" in err
