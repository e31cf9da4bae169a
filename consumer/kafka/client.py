"""The configuration of every Kafka client of the relay: the connection settings they all share (the consumer, the
dead-letter producer, admin clients, the operator tools' readers) in one place, as confluent-kafka's examples merge
them in ``configure_common``, and the settings of each kind of client built on them.

Authentication that takes settings only (SASL/PLAIN, SCRAM, OAUTHBEARER with librdkafka's built-in OIDC method,
mutual TLS) passes through ``kafka.client``. Amazon MSK IAM needs code, a token callback: it is added here from
``kafka.aws_msk_iam``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

from consumer.errors import ConfigError
from consumer.kafka.settings import AwsMskIamSettings, KafkaSettings, LibrdkafkaSettings
from consumer.observability.logging import LIBRDKAFKA_LOG

MSK_SIGNER_MODULE = "aws_msk_iam_sasl_signer.MSKAuthTokenProvider"
TokenCallback = Callable[[str], tuple[str, float]]


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    """``bootstrap.servers``, the user's ``kafka.client`` extras (security, SASL, TLS), the structured logger and,
    for MSK IAM, its SASL settings and token callback (extras given explicitly win)."""
    config: dict[str, Any] = {}
    if settings.aws_msk_iam is not None:
        config = {
            "security.protocol": "SASL_SSL",
            "sasl.mechanism": "OAUTHBEARER",
            "oauth_cb": msk_iam_token_callback(settings.aws_msk_iam),
        }
    return {**config, **settings.client, "bootstrap.servers": settings.bootstrap_servers, "logger": LIBRDKAFKA_LOG}


def consumer_client_config(settings: KafkaSettings) -> dict[str, Any]:
    """What every consumer of the relay starts from: the connection settings and the ``kafka.consumer`` extras."""
    return {**client_config(settings), **settings.consumer}


def local_config(bootstrap_servers: str) -> dict[str, Any]:
    """The client settings of a broker without security (the demo's, the tests' and the benchmarks')."""
    return client_config(KafkaSettings(bootstrap_servers=bootstrap_servers))


def durable_producer_config(kafka: KafkaSettings, extras: LibrdkafkaSettings | None = None) -> dict[str, Any]:
    """A producer whose acknowledged writes are durable: idempotent, acks=all; ``extras`` cannot weaken either."""
    return {"linger.ms": 5, **client_config(kafka), **(extras or {}), "enable.idempotence": True, "acks": "all"}


def reader_config(client: Mapping[str, Any], group: str) -> dict[str, Any]:
    """A consumer for bounded reads of partitions it assigns itself (``consumer.kafka.bounded``): ``group`` only
    names whose committed offsets it may read or commit; nothing committed unless asked, end of partition reported,
    unknown positions from the beginning."""
    return {
        **client,
        "group.id": group,
        "enable.auto.commit": False,
        "enable.auto.offset.store": False,
        "enable.partition.eof": True,
        "auto.offset.reset": "earliest",
    }


def msk_iam_token_callback(settings: AwsMskIamSettings) -> TokenCallback:
    """librdkafka's ``oauth_cb``: a fresh MSK IAM token and its expiry (seconds since the epoch) whenever librdkafka
    asks, signed with the credentials the AWS default chain finds at that moment (so rotated role credentials apply).
    """
    try:
        signer = importlib.import_module(MSK_SIGNER_MODULE)
    except ImportError:
        raise ConfigError(
            "kafka.aws_msk_iam needs aws-msk-iam-sasl-signer-python: pip install 'tiktok-events-relay[msk]'"
        ) from None

    def token(_oauthbearer_config: str) -> tuple[str, float]:
        if settings.role_arn is None:
            value, expiry_ms = signer.generate_auth_token(settings.region)
        else:
            value, expiry_ms = signer.generate_auth_token_from_role_arn(settings.region, settings.role_arn)
        return str(value), int(expiry_ms) / 1000

    return token
