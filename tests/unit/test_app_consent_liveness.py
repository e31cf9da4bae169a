"""Liveness with a consent table: catching up (however long) is alive; a dead table reader is not (a restart
rebuilds the table; sending on with a table that no longer hears withdrawals is not an option)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from consumer.app import RelayService
from consumer.config import load_config
from consumer.demo.run import isolated_config, load_example, with_consent_table
from consumer.sending.tokens import TokenStore


def service_with_table(tmp_path: Path, **table: Any) -> RelayService:
    data = isolated_config(
        load_example(), bootstrap_servers="127.0.0.1:9", track_url="http://127.0.0.1:9/", namespace="t"
    )
    path = tmp_path / "relay.yaml"
    path.write_text(yaml.safe_dump(with_consent_table(data, "t.consent", **table)))
    return RelayService(load_config(path), tokens=TokenStore.from_env({}))


def test_catching_up_longer_than_the_stall_limit_is_alive(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The poll loop has not started while the table catches up: that is not a stall."""
    service = service_with_table(tmp_path)
    later = time.monotonic() + 3600
    monkeypatch.setattr("consumer.app.time.monotonic", lambda: later)
    assert service._alive()


def test_a_dead_table_reader_is_not_alive(tmp_path: Path) -> None:
    service = service_with_table(tmp_path, consumer={"no.such.property": "x"})
    reader = service._consent_table
    assert reader is not None
    reader.start()
    reader.join(timeout_s=30)
    assert not service._alive()
