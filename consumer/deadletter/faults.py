"""What a failed dead-letter or audit write means, from the producer's error code. Pure.

Kafka (librdkafka) reports why it did not take a record; the answer decides what the publisher does next:

| fault | codes | what the publisher does |
|---|---|---|
| ``TOO_LARGE`` | ``MSG_SIZE_TOO_LARGE``, ``RECORD_LIST_TOO_LARGE``, ``INVALID_MSG_SIZE`` | writes a reduced one |
| ``UNAUTHORISED`` | ``TOPIC_AUTHORIZATION_FAILED``, ``CLUSTER_AUTHORIZATION_FAILED`` | holds, retrying; not ready |
| ``FATAL`` | any error librdkafka flags fatal (``_FATAL`` included) | the service stops, exits non-zero |
| ``TRANSIENT`` | anything else (broker down, timeouts, leader changes, a missing topic) | retries with backoff |

Only what can never succeed as written is treated differently; an unknown code is retried, because retrying is safe
(the message stays unsettled) and giving up is not.
"""

from __future__ import annotations

from enum import Enum

from confluent_kafka import KafkaError


class WriteFault(Enum):
    TRANSIENT = "transient"
    TOO_LARGE = "too_large"
    UNAUTHORISED = "unauthorised"
    FATAL = "fatal"


TOO_LARGE_CODES = frozenset(
    {KafkaError.MSG_SIZE_TOO_LARGE, KafkaError.RECORD_LIST_TOO_LARGE, KafkaError.INVALID_MSG_SIZE}
)
UNAUTHORISED_CODES = frozenset({KafkaError.TOPIC_AUTHORIZATION_FAILED, KafkaError.CLUSTER_AUTHORIZATION_FAILED})


def classify_write_error(code: int, fatal: bool) -> WriteFault:
    """The fault behind a producer error ``code`` (``fatal``: librdkafka's own flag)."""
    if fatal or code == KafkaError._FATAL:
        return WriteFault.FATAL
    if code in TOO_LARGE_CODES:
        return WriteFault.TOO_LARGE
    if code in UNAUTHORISED_CODES:
        return WriteFault.UNAUTHORISED
    return WriteFault.TRANSIENT
