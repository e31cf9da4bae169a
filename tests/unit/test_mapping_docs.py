"""docs/mapping.md's worked example (an order schema that is not ours) is checked against the real output."""

from __future__ import annotations

import hashlib
import json
import re
from pathlib import Path
from typing import Any

import pytest

from consumer.cli import main
from consumer.commands.map import ExitCode
from consumer.demo.samples import sample_record

DOC = (Path(__file__).resolve().parents[2] / "docs" / "mapping.md").read_text(encoding="utf-8")
EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "relay.example.yaml"
NOW = "2025-01-15T12:31:00Z"


def example(name: str) -> str:
    """The code block that follows ``<!-- example: name -->`` in the document."""
    found = re.search(rf"<!-- example: {name} -->\n```\w+\n(.*?)```", DOC, re.DOTALL)
    assert found is not None, f"docs/mapping.md has no '{name}' example"
    return found.group(1)


def with_digests(text: str) -> Any:
    """The documented body with each ``<sha256 of X>`` placeholder replaced by the digest of X."""
    return json.loads(re.sub(r"<sha256 of ([^>]+)>", lambda m: hashlib.sha256(m.group(1).encode()).hexdigest(), text))


def run_example(tmp_path: Path, capsys: pytest.CaptureFixture[str], record: str) -> tuple[int, Any]:
    config = tmp_path / "shop.yaml"
    config.write_text(example("config"))
    event = tmp_path / "checkout.json"
    event.write_text(record)
    code = main(["map", "--config", str(config), "--topic", "shop.events", "--now", "2025-01-15T12:00:00Z", str(event)])
    return code, json.loads(capsys.readouterr().out)


def test_documented_body_is_what_map_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The foreign order schema maps, with config only, to exactly the body the document shows."""
    code, body = run_example(tmp_path, capsys, example("record"))
    assert code == ExitCode.SENT
    assert body == with_digests(example("body"))


def test_documented_opt_out_is_withheld(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As the document says, opt_out in the platform's own consent vocabulary withholds the event (exit 3)."""
    code, decision = run_example(tmp_path, capsys, example("record").replace('"opt_in"', '"opt_out"'))
    assert (code, decision["reason"]) == (ExitCode.CONSENT_WITHHELD, "consent_denied")


def test_documented_unknown_shop_has_no_destination(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """As the document says, a shop missing from the pixel table exits 5 with no_destination."""
    code, decision = run_example(tmp_path, capsys, example("record").replace("acme-de.example", "acme-fr.example"))
    assert (code, decision["reason"]) == (ExitCode.NOT_MAPPABLE, "no_destination")


def test_documented_app_body_is_what_map_prints(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The app event body in the document is what `map` prints for the sample in-app order."""
    event = tmp_path / "order.json"
    event.write_text(json.dumps(sample_record("InAppOrderPaid"), default=str))
    code = main(["map", "--config", str(EXAMPLE_CONFIG), "--topic", "app.orders.paid", "--now", NOW, str(event)])
    assert code == ExitCode.SENT
    assert json.loads(capsys.readouterr().out) == with_digests(example("app body"))
