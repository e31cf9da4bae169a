"""The ``schemas`` settings: registry or local schemas per topic, credentials only from named variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from consumer.decode.schemas import registry_client_config
from consumer.decode.settings import DecodeSettings, RegistrySettings, TopicSchemaSettings
from consumer.errors import ConfigError


def test_avro_topic_needs_a_writer_schema() -> None:
    """Plain Avro carries no schema id, so the topic must name the schema its values were written with."""
    with pytest.raises(ValidationError, match="format avro needs writer_schema"):
        TopicSchemaSettings(format="avro")


def test_confluent_topic_takes_no_writer_schema() -> None:
    """A confluent topic's writer schema comes from the registry; a configured one would be silently ignored."""
    with pytest.raises(ValidationError, match="remove writer_schema"):
        TopicSchemaSettings(format="confluent", writer_schema=Path("x.avsc"))


def test_confluent_topics_need_a_registry() -> None:
    """Listing a confluent topic without a registry is refused, naming the topic."""
    with pytest.raises(ValidationError, match="topics orders use the confluent format"):
        DecodeSettings(topics={"orders": TopicSchemaSettings()})


def test_credentials_in_the_url_are_refused() -> None:
    """Secrets never come from the config file, including inside the URL."""
    with pytest.raises(ValidationError, match="credentials do not belong in the URL"):
        RegistrySettings(url="https://user:pass@registry.example.com")


def test_url_must_be_http() -> None:
    """Each comma-separated URL must be http(s) with a host."""
    with pytest.raises(ValidationError, match="http:// or https://"):
        RegistrySettings(url="http://registry-a:8081,registry-b:8081")


def test_credential_variables_come_in_pairs() -> None:
    """A user name without a password (or the reverse) is a configuration mistake."""
    with pytest.raises(ValidationError, match="both username_env and password_env"):
        RegistrySettings(url="http://registry:8081", username_env="SR_USER")


def test_undecodable_topics_are_unlisted_topics_without_registry() -> None:
    """Without a registry only listed topics decode; with one, every topic does."""
    local = DecodeSettings(topics={"leads": TopicSchemaSettings(format="avro", writer_schema=Path("lead.avsc"))})
    with_registry = DecodeSettings(registry=RegistrySettings(url="http://registry:8081"))
    assert local.undecodable_topics(["leads", "orders"]) == ["orders"]
    assert with_registry.undecodable_topics(["leads", "orders"]) == []


def test_client_config_reads_credentials_from_the_named_variables() -> None:
    """The basic-auth user info is assembled from the variables the settings name, and TLS paths are resolved."""
    settings = RegistrySettings(
        url="https://registry:8081", username_env="SR_USER", password_env="SR_PASS", ca_location=Path("ca.pem")
    )
    conf = registry_client_config(settings, lambda path: Path("/etc/relay") / path, {"SR_USER": "u", "SR_PASS": "p"})
    assert conf["basic.auth.user.info"] == "u:p"
    assert conf["ssl.ca.location"] == "/etc/relay/ca.pem"
    assert conf["url"] == "https://registry:8081"


def test_unset_credential_variable_is_a_config_error() -> None:
    """A named variable that is not set fails the start-up, naming the variable (not its value)."""
    settings = RegistrySettings(url="https://registry:8081", username_env="SR_USER", password_env="SR_PASS")
    with pytest.raises(ConfigError, match=r"SR_PASS \(schemas.registry.password_env\) is not set"):
        registry_client_config(settings, lambda path: path, {"SR_USER": "u"})
