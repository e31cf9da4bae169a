"""The producer-error table of dead-letter and audit writes: what can never succeed is told apart from what can."""

from __future__ import annotations

import pytest
from confluent_kafka import KafkaError

from consumer.deadletter.faults import WriteFault, classify_write_error


@pytest.mark.parametrize(
    ("code", "fatal", "fault"),
    [
        (KafkaError.MSG_SIZE_TOO_LARGE, False, WriteFault.TOO_LARGE),
        (KafkaError.RECORD_LIST_TOO_LARGE, False, WriteFault.TOO_LARGE),
        (KafkaError.INVALID_MSG_SIZE, False, WriteFault.TOO_LARGE),
        (KafkaError.TOPIC_AUTHORIZATION_FAILED, False, WriteFault.UNAUTHORISED),
        (KafkaError.CLUSTER_AUTHORIZATION_FAILED, False, WriteFault.UNAUTHORISED),
        (KafkaError._FATAL, False, WriteFault.FATAL),
        (KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER, True, WriteFault.FATAL),
        (KafkaError._TRANSPORT, False, WriteFault.TRANSIENT),
        (KafkaError._MSG_TIMED_OUT, False, WriteFault.TRANSIENT),
        (KafkaError._ALL_BROKERS_DOWN, False, WriteFault.TRANSIENT),
        (KafkaError.NOT_LEADER_FOR_PARTITION, False, WriteFault.TRANSIENT),
        (KafkaError.LEADER_NOT_AVAILABLE, False, WriteFault.TRANSIENT),
        (KafkaError.REQUEST_TIMED_OUT, False, WriteFault.TRANSIENT),
        (KafkaError.NOT_ENOUGH_REPLICAS, False, WriteFault.TRANSIENT),
        (KafkaError.UNKNOWN_TOPIC_OR_PART, False, WriteFault.TRANSIENT),
    ],
)
def test_each_producer_error_has_its_fault(code: int, fatal: bool, fault: WriteFault) -> None:
    """Too large -> reduce; not authorised -> hold; fatal -> restart; anything else (and anything unknown) retried."""
    assert classify_write_error(code, fatal) is fault
