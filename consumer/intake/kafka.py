"""The Kafka consumer adapter: the only code that touches the consumer, always from one thread.

Every consumer call (create, subscribe, store, pause/resume, consume, commit, close) runs on ONE single-thread
executor, so calls never overlap; librdkafka serves rebalance, error and statistics callbacks inside ``consume`` and
``close``, on that same thread. Rebalance callbacks hand the decision to the event loop (``RebalanceListener``) and
block until it answers, which keeps the settlement ledger single-threaded.

Offsets follow the at-least-once recipe: ``enable.auto.offset.store=false``; the poll loop stores the ledger's
watermark positions (already "next offset to read") before each consume, auto-commit commits them, and revokes and
shutdown commit synchronously. Partitions lost to the group are never committed.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Protocol, TypeVar

import orjson
import structlog
from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Consumer, KafkaError, KafkaException, Message, TopicPartition

from consumer.intake.backpressure import FlowAction, PartitionFlow
from consumer.kafka.client import consumer_client_config
from consumer.kafka.settings import KafkaSettings
from consumer.model import SourceMessage, SourceRef
from consumer.observability import metrics
from consumer.settlement.ledger import PartitionKey, Position

log = structlog.get_logger(__name__)
T = TypeVar("T")

GATHER_S = 0.02
"""Once a poll-loop turn has a message, how long it waits for the rest of its batch: short, so that an event waits
little for others (``poll_timeout_s``, 0.1 s by default, added up to that to every event below saturation), but not
zero, so that at moderate rates a turn takes more than a handful of messages (a turn has a fixed cost: the hop to
the consumer thread, offsets, back-pressure, metrics). At most 50 turns a second while messages trickle in."""
CALLBACK_MARGIN_S = 5.0
"""Extra time a rebalance callback waits for the event loop beyond the drain deadline before giving up."""


class RebalanceListener(Protocol):
    """The event-loop side of rebalances (the pipeline's settlement)."""

    async def assigned(self, partitions: list[PartitionKey]) -> None:
        """Partitions were assigned: start tracking them."""

    async def revoked(self, partitions: list[PartitionKey]) -> list[Position]:
        """Partitions are being revoked: settle or give up their in-flight work; return the positions to commit."""

    async def lost(self, partitions: list[PartitionKey]) -> None:
        """Partitions were lost (they may belong to someone else already): forget them, commit nothing."""


def consumer_config(settings: KafkaSettings) -> dict[str, Any]:
    """The librdkafka configuration: user extras first, then the settings the delivery guarantee rests on."""
    return {
        **consumer_client_config(settings),
        "bootstrap.servers": settings.bootstrap_servers,
        "group.id": settings.group_id,
        "partition.assignment.strategy": "cooperative-sticky",
        "enable.auto.commit": True,
        "enable.auto.offset.store": False,
        "auto.commit.interval.ms": settings.commit_interval_ms,
        "auto.offset.reset": settings.auto_offset_reset,
        "statistics.interval.ms": int(settings.stats_interval_s * 1000),
    }


def to_source_message(message: Message) -> SourceMessage:
    """A consumed message as the pipeline sees it (bytes untouched)."""
    ts_type, ts = message.timestamp()
    headers = message.headers()
    # Positional arguments (ref, key, value, headers, timestamp_ms): built per message on the consumer thread, and
    # keywords cost the dataclass's __init__ more to bind.
    return SourceMessage(
        SourceRef(message.topic() or "", message.partition() or 0, message.offset() or 0),
        message.key(),
        message.value(),
        # The raw consumer returns headers as a list of (str, bytes | None) pairs.
        tuple(headers) if headers else (),  # type: ignore[arg-type]
        None if ts_type == TIMESTAMP_NOT_AVAILABLE else ts,
    )


def _observe_consume_delay(messages: Sequence[SourceMessage]) -> None:
    """Observe how old the batch's oldest record was when it was consumed (one observation per batch, not per
    message: the figure is for latency and lag dashboards, not accounting)."""
    stamps = [m.timestamp_ms for m in messages if m.timestamp_ms is not None]
    if stamps:
        metrics.CONSUME_DELAY.observe(max(0.0, time.time() - min(stamps) / 1000))


def _keys(partitions: Sequence[TopicPartition]) -> list[PartitionKey]:
    return [(tp.topic, tp.partition) for tp in partitions]


def _topic_partitions(positions: Sequence[Position]) -> list[TopicPartition]:
    return [TopicPartition(p.topic, p.partition, p.offset) for p in positions]


class KafkaIntake:
    """A consumer-group member over ``topics``; driven by the poll loop through ``cycle``."""

    def __init__(self, settings: KafkaSettings, topics: Sequence[str], listener: RebalanceListener) -> None:
        self._settings = settings
        self._topics = list(topics)
        self._listener = listener
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kafka-consumer")
        self._consumer: Consumer | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._assigned: frozenset[PartitionKey] = frozenset()
        self._paused = False
        self._held: set[PartitionKey] = set()  # paused for their own span (SpanLimit), whatever _paused says
        self._broker_reachable: bool | None = None
        self._callback_timeout_s = settings.drain_deadline_s + CALLBACK_MARGIN_S

    # -- state for health and back-pressure (read on the loop; written on the consumer thread) -----------------

    @property
    def assignment(self) -> frozenset[PartitionKey]:
        return self._assigned

    @property
    def paused(self) -> bool:
        return self._paused

    @property
    def held(self) -> frozenset[PartitionKey]:
        """Partitions paused for their own tracked span (one of their messages does not settle)."""
        return frozenset(self._held)

    @property
    def broker_reachable(self) -> bool:
        """False after librdkafka reported all brokers down, until statistics show one up again. Before the first
        report, an assignment proves the broker was reached."""
        if self._broker_reachable is None:
            return bool(self._assigned)
        return self._broker_reachable

    # -- lifecycle ---------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create the consumer and subscribe (on the consumer thread)."""
        self._loop = asyncio.get_running_loop()
        await self._run(self._start)

    def _start(self) -> None:
        config = {
            **consumer_config(self._settings),
            "error_cb": self._on_error,
            "stats_cb": self._on_stats,
        }
        self._consumer = Consumer(config)
        self._consumer.subscribe(
            self._topics, on_assign=self._on_assign, on_revoke=self._on_revoke, on_lost=self._on_lost
        )
        log.info("kafka_subscribed", topics=self._topics, group_id=self._settings.group_id)

    async def cycle(
        self, store: list[Position], flow: FlowAction | None, limit: int, held: PartitionFlow | None = None
    ) -> list[SourceMessage]:
        """One poll-loop step on the consumer thread: store settled positions, apply the flow changes (all
        partitions, then single partitions for their span), consume."""
        return await self._run(self._cycle, store, flow, limit, held)

    async def close(self, final: list[Position]) -> None:
        """Commit ``final`` synchronously, leave the group and close the consumer."""
        try:
            await self._run(self._close, final)
        finally:
            self._executor.shutdown(wait=True)

    async def _run(self, fn: Callable[..., T], *args: Any) -> T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)

    # -- on the consumer thread ----------------------------------------------------------------------------------

    @property
    def _c(self) -> Consumer:
        assert self._consumer is not None, "start() first"
        return self._consumer

    def _cycle(
        self, store: list[Position], flow: FlowAction | None, limit: int, held: PartitionFlow | None
    ) -> list[SourceMessage]:
        if store:
            self._store(store)
        if flow is not None:
            self._apply_flow(flow)
        if held is not None:
            self._apply_partition_flow(held)
        out: list[SourceMessage] = []
        for message in self._consume_batch(limit):
            error = message.error()
            if error is None:
                out.append(to_source_message(message))
            elif error.fatal():
                raise KafkaException(error)
            elif error.code() != KafkaError._PARTITION_EOF:
                log.warning("kafka_consume_error", error=error.str(), code=error.name())
        _observe_consume_delay(out)
        return out

    def _consume_batch(self, limit: int) -> list[Message]:
        """Up to ``limit`` messages: the first as soon as one is ready (waiting at most ``poll_timeout_s``), the rest
        of the batch gathered for at most ``GATHER_S``.

        librdkafka's ``consume(n, timeout)`` blocks until ``n`` messages are queued or the timeout passes, so one
        call for a whole batch with ``poll_timeout_s`` made events wait for others whenever fewer than ``n`` arrived
        in that time. Under load the queue holds a full batch and neither call waits."""
        consumer = self._c
        first = consumer.consume(1, self._settings.poll_timeout_s)
        if not first or limit == 1:
            return first
        return first + consumer.consume(limit - 1, GATHER_S)

    def _store(self, positions: list[Position]) -> None:
        try:
            self._c.store_offsets(offsets=_topic_partitions(positions))
        except KafkaException as error:
            # A partition revoked since the positions were taken fails with _STATE; the others are stored.
            log.debug("kafka_store_offsets_partial", error=str(error))

    def _apply_flow(self, flow: FlowAction) -> None:
        assignment = self._c.assignment()
        if flow is FlowAction.PAUSE:
            self._c.pause(assignment)
            self._paused = True
        else:
            # Partitions held for their own span stay paused until their span shrinks.
            self._c.resume([tp for tp in assignment if (tp.topic, tp.partition) not in self._held])
            self._paused = False
        self._count_paused()
        # Debug: under sustained load back-pressure toggles often; the paused_partitions gauge shows it.
        log.debug("kafka_partitions_" + ("paused" if self._paused else "resumed"), partitions=len(assignment))

    def _apply_partition_flow(self, flow: PartitionFlow) -> None:
        pause = sorted(flow.pause.intersection(self._assigned))
        if pause:
            self._c.pause([TopicPartition(t, p) for t, p in pause])
            self._held.update(pause)
            # A warning: this is a stuck message, not load (the oldest_unsettled_age_seconds gauge names it).
            log.warning("kafka_partitions_held", partitions=[f"{t}[{p}]" for t, p in pause], why="tracked span")
        release = sorted(flow.resume.intersection(self._held))
        if release:
            self._held.difference_update(release)
            if not self._paused:
                self._c.resume([TopicPartition(t, p) for t, p in release if (t, p) in self._assigned])
            log.info("kafka_partitions_released", partitions=[f"{t}[{p}]" for t, p in release])
        self._count_paused()

    def _count_paused(self) -> None:
        metrics.PAUSED_PARTITIONS.set(len(self._assigned) if self._paused else len(self._held))

    def _commit(self, positions: list[Position], why: str) -> None:
        if not positions:
            return
        try:
            self._c.commit(offsets=_topic_partitions(positions), asynchronous=False)
            log.info("kafka_committed", why=why, partitions=len(positions))
        except KafkaException as error:
            log.warning("kafka_commit_failed", why=why, error=str(error))

    def _close(self, final: list[Position]) -> None:
        if self._consumer is None:
            return  # never started
        self._commit(final, "shutdown")
        self._c.close()  # leaves the group; serves the last revoke, which commits again (idempotent)
        self._assigned = frozenset()
        log.info("kafka_consumer_closed")

    def _on_loop(self, coroutine: Coroutine[Any, Any, T]) -> T | None:
        """Run a listener coroutine on the event loop and wait for it (we are on the consumer thread)."""
        assert self._loop is not None
        future = asyncio.run_coroutine_threadsafe(coroutine, self._loop)
        try:
            return future.result(timeout=self._callback_timeout_s)
        except TimeoutError:
            future.cancel()
            log.error("kafka_rebalance_callback_timeout", timeout_s=self._callback_timeout_s)
            return None

    def _on_assign(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        keys = _keys(partitions)
        self._on_loop(self._listener.assigned(keys))
        consumer.incremental_assign(partitions)
        self._assigned = self._assigned.union(keys)
        if self._paused:
            # A rebalance does not carry the pause over: pause everything assigned again.
            consumer.pause(consumer.assignment())
        elif self._held:
            consumer.pause([TopicPartition(t, p) for t, p in self._held])
        self._count_paused()
        metrics.REBALANCES.labels("assigned").inc(len(keys))
        log.info("kafka_partitions_assigned", partitions=[f"{t}[{p}]" for t, p in keys], paused=self._paused)

    def _on_revoke(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        del consumer
        keys = _keys(partitions)
        positions = self._on_loop(self._listener.revoked(keys))
        self._commit(positions or [], "revoke")
        self._forget(keys, "revoked")

    def _on_lost(self, consumer: Consumer, partitions: list[TopicPartition]) -> None:
        del consumer
        keys = _keys(partitions)
        self._on_loop(self._listener.lost(keys))
        self._forget(keys, "lost")

    def _forget(self, keys: list[PartitionKey], why: str) -> None:
        self._assigned = self._assigned.difference(keys)
        self._held.difference_update(keys)
        for topic, partition in keys:
            metrics.remove_partition_series(topic, partition)
        self._count_paused()
        metrics.REBALANCES.labels(why).inc(len(keys))
        log.info(f"kafka_partitions_{why}", partitions=[f"{t}[{p}]" for t, p in keys])

    def _on_error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self._broker_reachable = False
        log.warning("kafka_client_error", error=error.str(), code=error.name(), fatal=error.fatal())

    def _on_stats(self, stats_json: str) -> None:
        stats = orjson.loads(stats_json)
        brokers = stats.get("brokers", {}).values()
        self._broker_reachable = any(b.get("state") == "UP" for b in brokers)
        assigned = self._assigned
        for topic, topic_stats in stats.get("topics", {}).items():
            for partition_id, partition_stats in topic_stats.get("partitions", {}).items():
                partition = int(partition_id)
                lag = partition_stats.get("consumer_lag", -1)
                if (topic, partition) in assigned and lag >= 0:
                    metrics.CONSUMER_LAG.labels(topic, str(partition)).set(lag)
