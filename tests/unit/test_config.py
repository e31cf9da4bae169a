"""Configuration: one validated object from a YAML file and RELAY_ environment overrides; errors name the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from consumer.config import load_config
from consumer.errors import ConfigError

MINIMAL = """
kafka:
  bootstrap_servers: 127.0.0.1:9092
routes:
  - name: orders
    topic: orders
    event: Purchase
    event_source_id: CPIXEL
    event_id: event_id
    event_time: occurred_at
    consent: consent.marketing
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "relay.yaml"
    path.write_text(text)
    return path


def test_minimal_file_loads_with_defaults(tmp_path: Path) -> None:
    """A minimal file is enough; every other section takes its documented default."""
    config = load_config(write(tmp_path, MINIMAL))
    assert config.kafka.bootstrap_servers == "127.0.0.1:9092"
    assert config.tiktok.max_batch_events == 1000
    assert config.policy.unknown_consent == "deny"
    assert config.config_dir == tmp_path


def test_environment_overrides_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """RELAY_SECTION__KEY overrides the file's value for that key only."""
    monkeypatch.setenv("RELAY_KAFKA__GROUP_ID", "from-env")
    config = load_config(write(tmp_path, MINIMAL))
    assert config.kafka.group_id == "from-env"
    assert config.kafka.bootstrap_servers == "127.0.0.1:9092"


def test_error_names_the_bad_key(tmp_path: Path) -> None:
    """A wrong value is reported with its dotted path."""
    with pytest.raises(ConfigError, match=r"tiktok\.max_batch_events"):
        load_config(write(tmp_path, MINIMAL + "tiktok:\n  max_batch_events: 5000\n"))


def test_unknown_key_is_rejected(tmp_path: Path) -> None:
    """Typos do not pass silently."""
    with pytest.raises(ConfigError, match=r"kafka\.bootstrap_server"):
        load_config(write(tmp_path, MINIMAL.replace("bootstrap_servers", "bootstrap_servers: x\n  bootstrap_server")))


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")


def test_a_consent_table_whose_topic_cannot_be_decoded_is_refused(tmp_path: Path) -> None:
    """Every command that reads the consent table (the service, ``dlq replay --to tiktok``) must be able to decode
    its topic: without a schema every decision would be skipped as undecodable, the table would be empty, and a
    replay would send events of subjects who withdrew. The config itself refuses it, naming the topic."""
    text = MINIMAL + "    consent_subject: customer.customer_id\nconsent_table:\n  topic: consent.state\n"
    with pytest.raises(ConfigError, match=r"consent\.state"):
        load_config(write(tmp_path, text))


def test_a_consent_table_with_its_topic_listed_under_schemas_loads(tmp_path: Path) -> None:
    schema = tmp_path / "consent_decision.avsc"
    schema.write_text("{}")
    text = (
        MINIMAL
        + "    consent_subject: customer.customer_id\nconsent_table:\n  topic: consent.state\n"
        + f"schemas:\n  topics:\n    consent.state: {{format: avro, writer_schema: {schema}}}\n"
    )
    assert load_config(write(tmp_path, text)).consent_table.topic == "consent.state"
