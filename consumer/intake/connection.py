"""The connection settings every Kafka client of the relay shares (the consumer, the dead-letter producer, admin
clients, the operator tools' readers): one place, as confluent-kafka's examples merge them in ``configure_common``.

Authentication that takes settings only (SASL/PLAIN, SCRAM, OAUTHBEARER with librdkafka's built-in OIDC method,
mutual TLS) passes through ``kafka.client``. Amazon MSK IAM needs code, a token callback: it is added here from
``kafka.aws_msk_iam``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from consumer.errors import ConfigError
from consumer.intake.settings import AwsMskIamSettings, KafkaSettings
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
