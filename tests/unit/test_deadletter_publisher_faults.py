"""What the dead-letter publisher does with each kind of refusal from Kafka (a scripted producer stands in for
librdkafka; the real broker paths are in tests/integration/test_deadletter_publisher.py and test_service_oversize)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from confluent_kafka import KafkaError

from consumer.deadletter.publisher import DeadLetterPublisher
from consumer.deadletter.record import reduction
from consumer.deadletter.settings import DeadLetterSettings
from consumer.kafka.settings import KafkaSettings
from consumer.model import Failure, SourceMessage, SourceRef, Stage
from consumer.observability import metrics

PREFIX = "tiktok.relay."
MESSAGE = SourceMessage(SourceRef("orders", 0, 7), b"k", b"\x00" + b"v" * 100)
FAILURE = Failure(stage=Stage.DECODE, reason="decode_malformed", exception_class="MalformedPayloadError", message="x")
DLQ = "orders.dlq"


class ScriptedProducer:
    """Answers each produce with ``answer(record)``: None (acknowledged) or a ``KafkaError``."""

    def __init__(self, answer: Callable[[dict[str, Any]], KafkaError | None]) -> None:
        self.answer = answer
        self.records: list[dict[str, Any]] = []

    def produce(self, topic: str, **record: Any) -> None:
        record["topic"] = topic
        self.records.append(record)
        record["on_delivery"](self.answer(record), None)


def unauthorised_gauge() -> float | None:
    return metrics.REGISTRY.get_sample_value("tiktok_relay_durable_write_unauthorised", {"topic": DLQ})


def publisher_with(producer: ScriptedProducer, retry_backoff_max_s: float = 0.01) -> DeadLetterPublisher:
    publisher = DeadLetterPublisher(
        DeadLetterSettings(retry_backoff_max_s=retry_backoff_max_s),
        KafkaSettings(bootstrap_servers="127.0.0.1:9"),
        "1.0",
    )
    publisher._loop = asyncio.get_running_loop()
    publisher._producer = producer  # type: ignore[assignment]
    publisher._partitions[DLQ] = 1
    return publisher


async def test_a_record_too_large_is_written_again_as_a_reduced_dead_letter() -> None:
    """MSG_SIZE_TOO_LARGE for the whole record: the next write leaves the value out and says so; it settles."""
    producer = ScriptedProducer(lambda r: KafkaError(KafkaError.MSG_SIZE_TOO_LARGE) if r["value"] else None)
    future = publisher_with(producer).dead_letter(MESSAGE, FAILURE)
    await asyncio.wait_for(future, 5)
    whole, reduced = producer.records
    assert whole["value"] == MESSAGE.value
    assert (reduced["value"], reduced["key"]) == (None, b"k")
    found = reduction(reduced["headers"], PREFIX)
    assert found is not None and found.value_size == len(MESSAGE.value or b"")


async def test_a_topic_kafka_refuses_holds_the_write_and_reports_not_ready_until_it_is_allowed() -> None:
    """TOPIC_AUTHORIZATION_FAILED is a configuration fault: retried, not ready, a gauge names the topic; once the
    ACL is granted the write goes through and readiness comes back."""
    allowed = asyncio.Event()
    producer = ScriptedProducer(
        lambda _r: None if allowed.is_set() else KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)
    )
    publisher = publisher_with(producer)
    future = publisher.dead_letter(MESSAGE, FAILURE)
    await asyncio.sleep(0.1)
    assert not future.done()
    assert not publisher.ready
    assert unauthorised_gauge() == 1
    allowed.set()
    await asyncio.wait_for(future, 5)
    assert publisher.ready
    assert unauthorised_gauge() == 0


async def test_a_fatal_producer_error_stops_retrying_and_is_reported_for_a_restart() -> None:
    """A fatal error leaves the write unresolved (its message unsettled) and sets ``fatal``, on which the service
    stops and exits non-zero; the write is not retried on the dead producer."""
    producer = ScriptedProducer(lambda _r: KafkaError(KafkaError._FATAL, "fenced", fatal=True))
    publisher = publisher_with(producer)
    future = publisher.dead_letter(MESSAGE, FAILURE)
    await asyncio.sleep(0.1)
    assert not future.done()
    assert publisher.fatal is not None and "_FATAL" in publisher.fatal
    assert len(producer.records) == 1


async def test_a_write_refused_over_a_thousand_times_in_a_row_is_still_retried_at_the_capped_backoff() -> None:
    """A long broker outage: the backoff stays at its cap however many failures came before (2**1024 seconds is
    not a float, and must not end the retries of the write)."""
    failures = 1_100
    answers = iter([KafkaError(KafkaError._MSG_TIMED_OUT)] * failures)
    producer = ScriptedProducer(lambda _r: next(answers, None))
    future = publisher_with(producer, retry_backoff_max_s=0.000_001).dead_letter(MESSAGE, FAILURE)
    await asyncio.wait_for(future, 30)
    assert len(producer.records) == failures + 1
