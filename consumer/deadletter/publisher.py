"""Durable writes to Kafka: dead-letter records and consent-audit records, each acknowledged before it settles.

One idempotent producer (``acks=all``) writes both. The sync ``Producer`` is used because dead-letter records carry
headers; a small thread polls it, and each delivery report is bridged to an asyncio future with
``call_soon_threadsafe``. A write Kafka does not acknowledge is retried with backoff until it is, or until the
publisher closes (then its future is cancelled and the message stays unsettled, to be replayed): the offset of a
message never moves before its dead-letter or audit record is durable.

Kafka's answer to a write that failed is classified (``consumer.deadletter.faults``): a transient fault is retried;
a record too large for the topic or the producer is written again as a reduced dead letter (``record.reduce_record``:
the value, then if need be key and headers, left out; their sizes and SHA-256 and the source position kept, so
``dlq replay`` can fetch the original from the source topic); a topic the relay may not write to holds the write and
reports not-ready (``ready``) with the topic named in a metric and the log; a fatal producer error sets ``fatal``,
on which the service stops and exits non-zero so that Kubernetes restarts it with a new producer (unacknowledged
writes stay unsettled and are replayed from Kafka: nothing is lost).

At start, each source topic's dead-letter topic is created when missing, with the source's partition count and
``max.message.bytes`` (so whatever the source accepts fits), and the audit topic too (``deadletter.create_topics``).
A dead-letter record goes to the source's partition number, so with equal counts the per-key order of the source
survives.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import structlog
from confluent_kafka import KafkaError, KafkaException, Producer
from confluent_kafka.admin import AdminClient
from confluent_kafka.admin._config import ConfigResource  # not re-exported for mypy; the public class

from consumer.backoff import exponential_backoff
from consumer.deadletter.faults import WriteFault, classify_write_error
from consumer.deadletter.record import REDUCTIONS, DeadLetterRecord, audit_record, dead_letter_record, reduce_record
from consumer.deadletter.settings import DeadLetterSettings
from consumer.kafka.client import client_config, durable_producer_config
from consumer.kafka.delivery import on_loop
from consumer.kafka.settings import KafkaSettings
from consumer.kafka.topics import ADMIN_TIMEOUT_S, TopicSpec, admin_client, create_topics, partition_counts
from consumer.model import ConsentWithheld, Failure, SourceMessage
from consumer.observability import metrics

log = structlog.get_logger(__name__)

POLL_INTERVAL_S = 0.05
BUFFER_FULL_RETRY_S = 0.05
FIRST_RETRY_S = 0.5
MAX_MESSAGE_BYTES = "max.message.bytes"


@dataclass(slots=True, eq=False)
class _Write:
    """One record to make durable, with the future its caller awaits."""

    kind: str
    topic: str
    key: bytes | None
    value: bytes | None
    headers: list[tuple[str, str | bytes | None]] | None
    timestamp_ms: int | None
    future: asyncio.Future[None]
    partition: int = -1
    failures: int = field(default=0)
    record: DeadLetterRecord | None = None
    """The whole dead-letter record (None for audit records): what a reduction starts from."""
    reductions: int = 0


def producer_config(kafka: KafkaSettings, settings: DeadLetterSettings) -> dict[str, Any]:
    """Durable writes (idempotent, acks=all) with the ``deadletter.producer`` extras, which cannot weaken them."""
    return durable_producer_config(kafka, settings.producer)


class DeadLetterPublisher:
    """Writes dead-letter and audit records; every write returns a future resolved once Kafka acknowledged it."""

    def __init__(self, settings: DeadLetterSettings, kafka: KafkaSettings, version: str) -> None:
        self._settings = settings
        self._kafka = kafka
        self._version = version
        self._producer: Producer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._poller: threading.Thread | None = None
        self._stopping = threading.Event()
        self._partitions: dict[str, int] = {}  # dead-letter topic -> partition count
        self._ensuring: dict[str, asyncio.Future[None]] = {}
        self._pending: set[_Write] = set()
        self._closed = False
        self._unauthorised: set[str] = set()
        self._fatal: str | None = None

    @property
    def pending(self) -> int:
        """Writes not acknowledged yet."""
        return len(self._pending)

    @property
    def ready(self) -> bool:
        """False while Kafka refuses a dead-letter or audit topic to this service (a configuration fault)."""
        return not self._unauthorised

    @property
    def fatal(self) -> str | None:
        """The producer's fatal error, once it had one: the service must stop and be restarted."""
        return self._fatal

    async def start(self, source_topics: Iterable[str]) -> None:
        """Create the producer, start its poller and make sure the dead-letter and audit topics exist."""
        self._loop = asyncio.get_running_loop()
        config = {**producer_config(self._kafka, self._settings), "error_cb": self._on_error}
        self._producer = Producer(config)
        self._poller = threading.Thread(target=self._poll_forever, name="deadletter-producer", daemon=True)
        self._poller.start()
        await self._loop.run_in_executor(None, self._ensure_topics, list(source_topics))

    def dead_letter(self, message: SourceMessage, failure: Failure) -> asyncio.Future[None]:
        """Write ``message`` to its dead-letter topic; the future resolves when Kafka acknowledged the record."""
        record = dead_letter_record(message, failure, self._settings.header_prefix, self._version)
        topic = self._settings.dead_letter_topic(message.ref.topic)
        headers: list[tuple[str, str | bytes | None]] = [*record.headers]
        write = self._track(
            _Write(
                "dead_letter",
                topic,
                record.key,
                record.value,
                headers,
                record.timestamp_ms,
                self._new_future(),
                record=record,
            )
        )
        if topic in self._partitions:
            self._send(write, record.partition)
        else:
            self._send_after_ensure(write, message.ref.topic, record.partition)
        return write.future

    def audit(self, withheld: ConsentWithheld) -> asyncio.Future[None]:
        """Write the audit record of a consent drop; the future resolves when Kafka acknowledged it."""
        key, value = audit_record(withheld)
        write = self._track(_Write("audit", self._settings.audit_topic, key, value, None, None, self._new_future()))
        self._produce(write)
        return write.future

    async def close(self, timeout_s: float) -> None:
        """Wait up to ``timeout_s`` for outstanding writes, then stop; unacknowledged writes are cancelled."""
        self._closed = True
        loop = asyncio.get_running_loop()
        if self._producer is not None:
            remaining = await loop.run_in_executor(None, self._producer.flush, timeout_s)
            if remaining:
                log.warning("deadletter_unflushed", records=remaining)
        self._stopping.set()
        if self._poller is not None:
            await loop.run_in_executor(None, self._poller.join)
        for write in list(self._pending):
            write.future.cancel()
        self._pending.clear()

    # -- writes ----------------------------------------------------------------------------------------------

    def _new_future(self) -> asyncio.Future[None]:
        assert self._loop is not None, "start() first"
        return self._loop.create_future()

    def _track(self, write: _Write) -> _Write:
        self._pending.add(write)
        write.future.add_done_callback(lambda _: self._pending.discard(write))
        return write

    def _send(self, write: _Write, source_partition: int) -> None:
        # The source's partition when the dead-letter topic has it (same key, same order); else the partitioner.
        write.partition = source_partition if source_partition < self._partitions.get(write.topic, 0) else -1
        self._produce(write)

    def _send_after_ensure(self, write: _Write, source_topic: str, source_partition: int) -> None:
        assert self._loop is not None
        ensuring = self._ensuring.get(write.topic)
        if ensuring is None:
            ensuring = asyncio.ensure_future(self._loop.run_in_executor(None, self._ensure_topics, [source_topic]))
            self._ensuring[write.topic] = ensuring
            ensuring.add_done_callback(lambda done: self._ensured(write.topic, done))
        ensuring.add_done_callback(lambda _: self._send(write, source_partition))

    def _ensured(self, topic: str, done: asyncio.Future[None]) -> None:
        self._ensuring.pop(topic, None)
        if not done.cancelled() and (error := done.exception()) is not None:
            # The write still goes ahead: Kafka's answer decides, and a failure is retried like any other.
            log.warning("deadletter_topic_check_failed", topic=topic, error=str(error))

    def _produce(self, write: _Write) -> None:
        assert self._producer is not None and self._loop is not None
        if self._closed or write.future.done():
            write.future.cancel()
            return
        try:
            self._producer.produce(
                write.topic,
                value=write.value,
                key=write.key,
                partition=write.partition,
                headers=write.headers,
                timestamp=write.timestamp_ms or 0,
                on_delivery=on_loop(self._loop, lambda error: self._acknowledged(write, error)),
            )
        except BufferError:
            # The local queue is full: librdkafka drains it as the poller runs; try again shortly.
            self._loop.call_later(BUFFER_FULL_RETRY_S, self._produce, write)
        except KafkaException as error:
            self._failed(write, error.args[0])

    def _acknowledged(self, write: _Write, error: KafkaError | None) -> None:
        if write.future.done():
            return
        if error is None:
            self._authorised(write.topic)
            write.future.set_result(None)
        else:
            self._failed(write, error)

    def _failed(self, write: _Write, error: KafkaError) -> None:
        """Act on Kafka's refusal of ``write`` as its fault requires (see the module docstring)."""
        fault = classify_write_error(error.code(), error.fatal())
        if fault is WriteFault.TOO_LARGE and self._reduce(write, error):
            return
        if fault is WriteFault.UNAUTHORISED:
            self._refused(write.topic, error)
        elif fault is WriteFault.FATAL:
            self._fail(error)
            return  # the service stops; retrying on a fatal producer would only fail again
        self._retry_later(write, error.str())

    def _reduce(self, write: _Write, error: KafkaError) -> bool:
        """Write the next reduced form of a dead letter too large to write whole; False when none is left."""
        if write.record is None or write.reductions >= len(REDUCTIONS):
            return False
        omit = REDUCTIONS[write.reductions]
        reduced = reduce_record(write.record, omit, error.name(), self._settings.header_prefix)
        write.reductions += 1
        write.key, write.value, write.headers = reduced.key, reduced.value, [*reduced.headers]
        metrics.DEAD_LETTERS_REDUCED.labels(write.topic).inc()
        log.warning(
            "deadletter_reduced",
            topic=write.topic,
            omitted=",".join(omit),
            value_bytes=len(write.record.value or b""),
            key_bytes=len(write.record.key or b""),
            error=error.name(),
        )
        self._produce(write)
        return True

    def _refused(self, topic: str, error: KafkaError) -> None:
        if topic not in self._unauthorised:
            self._unauthorised.add(topic)
            metrics.DURABLE_WRITE_UNAUTHORISED.labels(topic).set(1)
            log.error("deadletter_topic_unauthorised", topic=topic, error=error.name(), hint="grant this service WRITE")

    def _authorised(self, topic: str) -> None:
        if topic in self._unauthorised:
            self._unauthorised.discard(topic)
            metrics.DURABLE_WRITE_UNAUTHORISED.labels(topic).set(0)
            log.info("deadletter_topic_authorised", topic=topic)

    def _fail(self, error: KafkaError) -> None:
        if self._fatal is None:
            self._fatal = f"{error.name()}: {error.str()}"
            log.error("deadletter_producer_fatal", error=error.str(), code=error.name(), action="service stops")

    def _retry_later(self, write: _Write, error: str) -> None:
        assert self._loop is not None
        write.failures += 1
        delay = exponential_backoff(write.failures, FIRST_RETRY_S, self._settings.retry_backoff_max_s)
        metrics.DURABLE_WRITE_RETRIES.labels(write.kind).inc()
        log.warning("durable_write_failed", kind=write.kind, topic=write.topic, error=error, retry_in_s=delay)
        self._loop.call_later(delay, self._produce, write)

    # -- producer thread and topic administration --------------------------------------------------------

    def _poll_forever(self) -> None:
        assert self._producer is not None
        while not self._stopping.is_set():
            self._producer.poll(POLL_INTERVAL_S)

    def _on_error(self, error: KafkaError) -> None:
        log.warning("deadletter_producer_error", error=error.str(), code=error.name(), fatal=error.fatal())
        if error.fatal() and self._loop is not None:
            self._loop.call_soon_threadsafe(self._fail, error)

    def _ensure_topics(self, source_topics: list[str]) -> None:
        """Find (and, if allowed, create) the dead-letter topics of ``source_topics`` and the audit topic; record
        the dead-letter topics' partition counts."""
        admin = admin_client(client_config(self._kafka))
        existing = partition_counts(admin)
        missing: dict[str, int] = {}
        for source in source_topics:
            topic = self._settings.dead_letter_topic(source)
            if topic not in existing and source in existing:
                missing[topic] = existing[source]
            elif source not in existing:
                log.warning("deadletter_source_topic_missing", topic=source)
        if self._settings.audit_topic not in existing:
            missing[self._settings.audit_topic] = self._settings.audit_partitions
        if missing and self._settings.create_topics:
            self._create(admin, missing, self._max_message_bytes(admin, source_topics, missing))
            # A topic created a moment ago may not be listed yet (metadata propagates): it has the count asked for.
            # Without this, its first write would look for it again and re-create it had it been deleted since.
            existing = {**missing, **partition_counts(admin)}
        elif missing:
            log.warning("deadletter_topics_missing", topics=sorted(missing), hint="create them or enable create_topics")
        for source in source_topics:
            topic = self._settings.dead_letter_topic(source)
            if topic in existing:
                self._partitions[topic] = existing[topic]

    def _max_message_bytes(self, admin: AdminClient, sources: list[str], missing: dict[str, int]) -> dict[str, str]:
        """The ``max.message.bytes`` of each missing dead-letter topic's source, so that whatever the source took
        fits its dead-letter topic too; a source whose config cannot be read is left to the broker's default."""
        wanted = {s: t for s in sources if (t := self._settings.dead_letter_topic(s)) in missing}
        if not wanted:
            return {}
        found: dict[str, str] = {}
        futures = admin.describe_configs([ConfigResource("topic", source) for source in wanted])
        for resource, future in futures.items():
            try:
                entry = future.result(timeout=ADMIN_TIMEOUT_S).get(MAX_MESSAGE_BYTES)
            except KafkaException as error:
                log.warning("deadletter_source_config_unreadable", topic=resource.name, error=str(error))
                continue
            if entry is not None and entry.value is not None:
                found[wanted[resource.name]] = entry.value
        return found

    def _create(self, admin: AdminClient, missing: dict[str, int], max_bytes: dict[str, str]) -> None:
        specs = {
            t: TopicSpec(n, {MAX_MESSAGE_BYTES: max_bytes[t]} if t in max_bytes else {}) for t, n in missing.items()
        }
        # Another replica may have created one a moment ago: only the ones created here are logged.
        for topic in create_topics(admin, specs, self._settings.replication_factor, exist_ok=True):
            log.info(
                "deadletter_topic_created",
                topic=topic,
                partitions=missing[topic],
                max_message_bytes=max_bytes.get(topic, "broker default"),
            )
