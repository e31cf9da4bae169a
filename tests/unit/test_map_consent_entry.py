"""`tiktok-relay map --consent-entry`: the decision at send time for a record, given the consent table's entry for
its subject."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.cli import main
from consumer.commands.map import ExitCode
from consumer.demo.run import isolated_config, load_example, with_consent_table
from tests.unit.test_map_command import NOW, write_json

TOPIC = "t.orders.paid"
WITHDRAWN_LATER = json.dumps({"purposes": {"marketing": "DENIED"}, "decided_at": "2025-01-15T13:00:00Z"})


def config_with_table(tmp_path: Path, table: bool = True) -> str:
    data = isolated_config(
        load_example(), bootstrap_servers="127.0.0.1:9092", track_url="http://127.0.0.1:1/track", namespace="t"
    )
    if table:
        data = with_consent_table(data, "t.consent")
    path = tmp_path / "relay.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def run_map(capsys: pytest.CaptureFixture[str], config: str, *args: str) -> tuple[int, Any, str]:
    code = main(["map", "--config", config, "--now", NOW, "--topic", TOPIC, *args])
    captured = capsys.readouterr()
    return code, json.loads(captured.out) if captured.out.strip() else None, captured.err


def test_a_withdrawal_newer_than_the_event_is_withheld(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The record alone would be sent; with the entry (marketing denied after the event) it is withheld, and the
    output is the audit record the relay would write."""
    event = write_json(tmp_path, "OrderPaid")
    code, out, _ = run_map(capsys, config_with_table(tmp_path), event, "--consent-entry", WITHDRAWN_LATER)
    assert code == ExitCode.CONSENT_WITHHELD
    assert (out["decision"], out["reason"], out["route"]) == ("withheld", "consent_withdrawn_later", "order-paid")


def test_an_entry_that_grants_lets_the_event_go(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    granted = json.dumps({"purposes": {"marketing": "GRANTED"}, "decided_at": "2025-01-15T13:00:00Z"})
    event = write_json(tmp_path, "OrderPaid")
    code, out, err = run_map(capsys, config_with_table(tmp_path), event, "--consent-entry", granted)
    assert code == ExitCode.SENT
    assert out["data"][0]["event"] == "Purchase"
    assert "consent table: sent" in err


def test_an_invalid_entry_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = write_json(tmp_path, "OrderPaid")
    code, _, err = run_map(capsys, config_with_table(tmp_path), event, "--consent-entry", '{"purposes": {}}')
    assert code == ExitCode.USAGE
    assert "decided_at" in err


def test_an_entry_without_a_consent_table_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    event = write_json(tmp_path, "OrderPaid")
    code, _, err = run_map(capsys, config_with_table(tmp_path, table=False), event, "--consent-entry", WITHDRAWN_LATER)
    assert code == ExitCode.USAGE
    assert "consent_table" in err
