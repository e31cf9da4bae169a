"""The connection settings every Kafka client of the relay shares (the consumer, the dead-letter producer, admin
clients, the operator tools' readers): one place, as confluent-kafka's examples merge them in ``configure_common``.
Authentication that needs code rather than settings (Amazon MSK IAM's token callback) is added here too."""

from __future__ import annotations

from typing import Any

from consumer.intake.settings import KafkaSettings
from consumer.observability.logging import LIBRDKAFKA_LOG


def client_config(settings: KafkaSettings) -> dict[str, Any]:
    """``bootstrap.servers``, the user's ``kafka.client`` extras (security, SASL, TLS) and the structured logger."""
    return {**settings.client, "bootstrap.servers": settings.bootstrap_servers, "logger": LIBRDKAFKA_LOG}
