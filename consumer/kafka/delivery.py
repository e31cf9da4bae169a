"""Producer delivery reports, bridged to their waiters.

librdkafka calls a record's delivery callback on whichever thread polls or flushes the producer. ``on_loop`` hands
the outcome to the asyncio event loop's thread with ``call_soon_threadsafe`` (as faststream's confluent client
does), and ``delivery_future`` is that bridge ending in a future; ``produce_all`` is the synchronous form, for
tools that write a few records and wait for them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable

from confluent_kafka import KafkaError, KafkaException, Message, Producer

DeliveryCallback = Callable[[KafkaError | None, Message], None]


class DeliveryError(Exception):
    """Kafka did not acknowledge every record of a ``produce_all``."""


def on_loop(loop: asyncio.AbstractEventLoop, handle: Callable[[KafkaError | None], None]) -> DeliveryCallback:
    """A delivery callback that runs ``handle(error)`` (``None`` once acknowledged) on ``loop``'s thread."""

    def delivered(error: KafkaError | None, _message: Message) -> None:
        loop.call_soon_threadsafe(handle, error)

    return delivered


def delivery_future(loop: asyncio.AbstractEventLoop) -> tuple[asyncio.Future[None], DeliveryCallback]:
    """A future resolved once Kafka acknowledged the record (``KafkaException`` when it refused it), and the
    delivery callback to produce the record with."""
    future: asyncio.Future[None] = loop.create_future()

    def settle(error: KafkaError | None) -> None:
        if future.done():
            return
        if error is None:
            future.set_result(None)
        else:
            future.set_exception(KafkaException(error))

    return future, on_loop(loop, settle)


def produce_all(
    producer: Producer, topic: str, records: Iterable[tuple[bytes | None, bytes | None]], timeout_s: float
) -> None:
    """Produce ``(key, value)`` records to ``topic`` and wait up to ``timeout_s`` until Kafka acknowledged every one;
    ``DeliveryError`` naming Kafka's refusals (or the timeout) otherwise."""
    failures: list[str] = []

    def delivered(error: KafkaError | None, _message: Message) -> None:
        if error is not None:
            failures.append(error.str())

    for key, value in records:
        producer.produce(topic, key=key, value=value, on_delivery=delivered)
    if producer.flush(timeout_s) or failures:
        raise DeliveryError(", ".join(failures) or "timed out")
