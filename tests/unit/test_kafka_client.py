"""The connection settings every Kafka client shares, and Amazon MSK IAM authentication through AWS's signer."""

from __future__ import annotations

import base64
import time
from urllib.parse import parse_qs, urlsplit

import pytest

from consumer.kafka.client import client_config, consumer_client_config, durable_producer_config, reader_config
from consumer.kafka.settings import KafkaSettings
from consumer.observability.logging import LIBRDKAFKA_LOG


def test_every_client_gets_the_extras_the_bootstrap_servers_and_the_structured_logger() -> None:
    settings = KafkaSettings(bootstrap_servers="b:9092", client={"security.protocol": "SASL_SSL"})
    assert client_config(settings) == {
        "security.protocol": "SASL_SSL",
        "bootstrap.servers": "b:9092",
        "logger": LIBRDKAFKA_LOG,
    }


@pytest.fixture
def aws_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    """Static credentials in the environment, the first link of AWS's default chain (no network needed to sign)."""
    for name in ("AWS_PROFILE", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLEEXAMPLE00")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "example-secret-access-key-not-real")


def test_msk_iam_sets_sasl_oauthbearer_and_a_signed_token_callback(aws_credentials: None) -> None:
    """kafka.aws_msk_iam gives every client SASL_SSL + OAUTHBEARER and an oauth_cb whose token is AWS's signed
    kafka-cluster:Connect request for the region, with an expiry in the future (seconds since the epoch)."""
    config = client_config(KafkaSettings(bootstrap_servers="b-1.msk:9098", aws_msk_iam={"region": "eu-west-1"}))
    assert (config["security.protocol"], config["sasl.mechanism"]) == ("SASL_SSL", "OAUTHBEARER")
    token, expiry_s = config["oauth_cb"]("")
    url = urlsplit(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode())
    query = parse_qs(url.query)
    assert url.hostname == "kafka.eu-west-1.amazonaws.com"
    assert query["Action"] == ["kafka-cluster:Connect"]
    assert query["X-Amz-Credential"][0].startswith("AKIAEXAMPLEEXAMPLE00/")
    assert "/eu-west-1/kafka-cluster/" in query["X-Amz-Credential"][0]
    assert "X-Amz-Signature" in query
    assert expiry_s > time.time()


def test_explicit_client_settings_win_over_the_msk_defaults(aws_credentials: None) -> None:
    settings = KafkaSettings(
        bootstrap_servers="b:9098", aws_msk_iam={"region": "us-east-1"}, client={"security.protocol": "SASL_PLAINTEXT"}
    )
    assert client_config(settings)["security.protocol"] == "SASL_PLAINTEXT"


def test_a_durable_producer_stays_idempotent_with_acks_all_whatever_the_extras() -> None:
    """The dead-letter, audit and replay producers: extras apply, but cannot weaken what makes a write durable."""
    settings = KafkaSettings(bootstrap_servers="b:9092")
    config = durable_producer_config(settings, {"acks": 1, "enable.idempotence": False, "linger.ms": 50})
    assert (config["enable.idempotence"], config["acks"], config["linger.ms"]) == (True, "all", 50)
    assert config["bootstrap.servers"] == "b:9092"


def test_a_bounded_reader_commits_nothing_by_itself_and_hears_the_end_of_each_partition() -> None:
    config = reader_config(consumer_client_config(KafkaSettings(bootstrap_servers="b:9092")), "g")
    assert config["group.id"] == "g"
    assert (config["enable.auto.commit"], config["enable.auto.offset.store"]) == (False, False)
    assert config["enable.partition.eof"] is True
