"""The consent table's Kafka edge: a consumer without a group that keeps the table current.

It assigns every partition of the consent topic from the beginning (no group, no committed offsets: the state is
rebuilt from the compacted topic at every start, never from local disk) and runs on its own thread, for as long as
the service runs. ``caught_up`` turns true once every partition has been read to the end it had when reading
began (librdkafka's partition-EOF event); the service sends nothing that depends on the table before that.

Each record: no key is skipped (counted); a null value (tombstone) forgets the subject; any other value is decoded
with the ``schemas`` settings of its topic and replaces the subject's entry. A value that cannot be decoded or read
is skipped and counted (its partition and offset logged, never the key, which may be a customer id); a schema
registry outage is retried in order, so no decision is skipped for it.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import structlog
from confluent_kafka import OFFSET_BEGINNING, Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumer.consent_table.entry import ConsentEntryError, PurposeBits
from consumer.consent_table.settings import ConsentTableSettings
from consumer.consent_table.table import ConsentTable, subject_digest
from consumer.decode.avro import Decoder
from consumer.decode.settings import DecodeSettings
from consumer.kafka.client import client_config, reader_config
from consumer.kafka.settings import KafkaSettings
from consumer.model import DomainRecord, PermanentError, SourceMessage, SourceRef, TransientError
from consumer.observability import metrics

log = structlog.get_logger(__name__)

CONSUME_BATCH = 1000
CONSUME_TIMEOUT_S = 0.2
METADATA_TIMEOUT_S = 10.0
MISSING_TOPIC_RETRY_S = 2.0
TRANSIENT_RETRY_S = 1.0
CAUGHT_UP_POLL_S = 0.05


class Decoding(Protocol):
    def decode(self, message: SourceMessage) -> DomainRecord: ...


def consent_table_reader(
    settings: ConsentTableSettings, kafka: KafkaSettings, schemas: DecodeSettings, resolve_path: Callable[[Path], Path]
) -> ConsentTableReader | None:
    """The reader of the consent table, or None when the table is off. It decodes with a decoder of its own (built
    from ``schemas``, local schema files resolved by ``resolve_path``): it runs on its own thread, and decoders cache
    schemas."""
    if not settings.enabled:
        return None
    return ConsentTableReader(settings, kafka, Decoder.from_settings(schemas, resolve_path))


def table_consumer_config(settings: ConsentTableSettings, kafka: KafkaSettings) -> dict[str, Any]:
    """A consumer that never joins a group or commits: ``group.id`` is required by the client, not used."""
    return reader_config({**client_config(kafka), **settings.consumer}, f"{kafka.group_id}.consent-table")


class ConsentTableReader:
    """Reads the consent topic into ``table`` on a thread of its own; see the module docstring."""

    def __init__(
        self,
        settings: ConsentTableSettings,
        kafka: KafkaSettings,
        decoder: Decoding,
        table: ConsentTable | None = None,
    ) -> None:
        assert settings.topic is not None, "the consent table needs consent_table.topic"
        self._settings = settings
        self._topic = settings.topic
        self._config = table_consumer_config(settings, kafka)
        self._decoder = decoder
        self._purposes = PurposeBits(settings.purposes)
        self.table = table if table is not None else ConsentTable()
        self._caught_up = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def caught_up(self) -> bool:
        """True once the topic was read to its end at start-up (then it stays true)."""
        return self._caught_up.is_set()

    @property
    def alive(self) -> bool:
        """False once the reader thread has ended without being asked to (the table no longer hears withdrawals:
        the service's liveness fails, so the process is restarted and the table rebuilt)."""
        return self._thread is None or self._thread.is_alive() or self._stopping.is_set()

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="consent-table", daemon=True)
        self._thread.start()

    def join(self, timeout_s: float | None = None) -> None:
        """Wait for the reader thread to end (after ``close`` began, or after it failed)."""
        if self._thread is not None:
            self._thread.join(timeout_s)

    async def wait_caught_up(self, stop: asyncio.Event | None = None) -> bool:
        """Wait until the table caught up (True) or ``stop`` is set (False)."""
        while not self._caught_up.is_set():
            if stop is not None and stop.is_set():
                return False
            await asyncio.sleep(CAUGHT_UP_POLL_S)
        return True

    async def close(self) -> None:
        self._stopping.set()
        await asyncio.get_running_loop().run_in_executor(None, self.join)

    # -- the reader thread -------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            consumer = Consumer(self._config)
        except Exception:  # the table must not die silently: see ``alive``
            log.exception("consent_table_reader_failed", topic=self._topic)
            return
        try:
            partitions = self._partitions(consumer)
            if partitions is None:
                return
            consumer.assign([TopicPartition(self._topic, p, OFFSET_BEGINNING) for p in partitions])
            self._read(consumer, partitions)
        except Exception:  # as above
            log.exception("consent_table_reader_failed", topic=self._topic)
        finally:
            consumer.close()

    def _partitions(self, consumer: Consumer) -> list[int] | None:
        """The topic's partitions; waits (warning once) while the topic does not exist or the brokers do not answer
        (a restart would not make them answer sooner). None when stopping."""
        warned = False
        while not self._stopping.is_set():
            try:
                topics = consumer.list_topics(self._topic, timeout=METADATA_TIMEOUT_S).topics
            except KafkaException as error:
                topics, cause = {}, error.args[0].str()
            else:
                cause = "topic missing"
            metadata = topics.get(self._topic)
            if metadata is not None and metadata.error is None and metadata.partitions:
                return sorted(metadata.partitions)
            if not warned:
                log.warning(
                    "consent_table_topic_missing",
                    topic=self._topic,
                    cause=cause,
                    hint="nothing is sent until it exists",
                )
                warned = True
            self._stopping.wait(MISSING_TOPIC_RETRY_S)
        return None

    def _read(self, consumer: Consumer, partitions: list[int]) -> None:
        at_end: set[int] = set()
        started = time.monotonic()
        next_report = 0.0
        while not self._stopping.is_set():
            for message in consumer.consume(CONSUME_BATCH, CONSUME_TIMEOUT_S):
                error = message.error()
                if error is None:
                    self._apply(message)
                elif error.code() == KafkaError._PARTITION_EOF:
                    at_end.add(message.partition() or 0)
                    if not self._caught_up.is_set() and at_end.issuperset(partitions):
                        self._caught_up.set()
                        metrics.CONSENT_TABLE_CAUGHT_UP.set(1)
                        log.info(
                            "consent_table_caught_up",
                            topic=self._topic,
                            subjects=len(self.table),
                            seconds=round(time.monotonic() - started, 3),
                        )
                else:
                    log.warning("consent_table_read_error", topic=self._topic, error=error.str())
            if time.monotonic() >= next_report:
                next_report = time.monotonic() + self._settings.lag_interval_s
                self._report(consumer, partitions)

    def _apply(self, message: Message) -> None:
        key = message.key()
        if key is None:
            self._invalid(message, "no_key")
            return
        value = message.value()
        if value is None:
            self.table.delete(subject_digest(key))
            return
        ref = SourceRef(self._topic, message.partition() or 0, message.offset() or 0)
        while not self._stopping.is_set():
            try:
                record = self._decoder.decode(SourceMessage(ref, key, value))
                self.table.put(subject_digest(key), self._purposes.entry(record.value))
                return
            except TransientError as error:
                log.warning("consent_table_decode_retry", error=str(error), retry_in_s=TRANSIENT_RETRY_S)
                self._stopping.wait(TRANSIENT_RETRY_S)
            except (PermanentError, ConsentEntryError) as error:
                self._invalid(message, "undecodable", str(error))
                return

    def _invalid(self, message: Message, cause: str, detail: str | None = None) -> None:
        metrics.CONSENT_TABLE_INVALID.labels(cause).inc()
        log.warning(
            "consent_table_record_skipped",
            topic=self._topic,
            partition=message.partition(),
            offset=message.offset(),
            cause=cause,
            detail=detail,
        )

    def _report(self, consumer: Consumer, partitions: list[int]) -> None:
        """Subjects known and the table's lag (records written to the topic and not read yet)."""
        metrics.CONSENT_SUBJECTS.set(len(self.table))
        lag = 0
        positions = consumer.position([TopicPartition(self._topic, p) for p in partitions])
        for position in positions:
            low, high = consumer.get_watermark_offsets(position, timeout=METADATA_TIMEOUT_S, cached=False)
            read_to = position.offset if position.offset >= 0 else low
            lag += max(0, high - read_to)
        metrics.CONSENT_TABLE_LAG.set(lag)
