"""Producer delivery reports bridged to asyncio futures, as librdkafka calls them: from another thread."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import pytest
from confluent_kafka import KafkaError, KafkaException

from consumer.kafka.delivery import DeliveryCallback, delivery_future


def call_from_another_thread(callback: DeliveryCallback, error: KafkaError | None) -> None:
    message: Any = None  # the bridge reads only the error
    thread = threading.Thread(target=callback, args=(error, message))
    thread.start()
    thread.join()


async def test_an_acknowledged_record_resolves_its_future_on_the_loop() -> None:
    future, on_delivery = delivery_future(asyncio.get_running_loop())
    call_from_another_thread(on_delivery, None)
    await asyncio.wait_for(future, 5)
    assert future.done() and future.exception() is None


async def test_a_refused_record_fails_its_future_with_kafkas_error() -> None:
    future, on_delivery = delivery_future(asyncio.get_running_loop())
    call_from_another_thread(on_delivery, KafkaError(KafkaError.MSG_SIZE_TOO_LARGE))
    with pytest.raises(KafkaException) as raised:
        await asyncio.wait_for(future, 5)
    assert raised.value.args[0].code() == KafkaError.MSG_SIZE_TOO_LARGE
