"""The relay service: wiring and lifecycle (start, poll loop, rebalances, drain, close).

One event loop runs everything except the Kafka clients' own threads. The poll loop never waits on HTTP: each turn
stores the settled positions, applies back-pressure (pause/resume), consumes one batch on the consumer thread and
hands it to the pipeline a slice at a time (``Pipeline.process_in_slices``: the event loop runs TikTok's responses
and the linger timer between slices, not only after the whole batch); the pipeline never waits for an outcome.
``stop`` (set by SIGTERM/SIGINT in ``tiktok-relay run``) ends the poll loop; the service then drains in-flight work
within ``kafka.drain_deadline_s``, closes the sender and the publisher (whatever they settle while closing counts),
commits what is settled, leaves the group and closes the rest.
"""

from __future__ import annotations

import asyncio
import time

import structlog

from consumer import __version__
from consumer.config import RelayConfig
from consumer.consent_table.reader import consent_table_reader
from consumer.deadletter.publisher import DeadLetterPublisher
from consumer.decode.avro import Decoder
from consumer.errors import ConfigError
from consumer.intake.backpressure import BackPressure, SpanLimit
from consumer.intake.kafka import KafkaIntake
from consumer.mapping.translator import Translator
from consumer.observability import metrics
from consumer.observability.health import HealthChecks, HealthServer
from consumer.pipeline import Pipeline
from consumer.sending.sender import Sender
from consumer.sending.tokens import TokenStore
from consumer.settlement.handover import Handover, wait_settled
from consumer.settlement.ledger import Ledger

log = structlog.get_logger(__name__)

PUBLISHER_CLOSE_S = 5.0
AGE_REPORT_S = 1.0
"""How often the oldest-unsettled-age gauges are refreshed (their resolution is about a second anyway)."""
STALL_LIMIT_FLOOR_S = 60.0
"""Liveness fails when the poll loop has not turned for this long (or three drain deadlines, if longer)."""


class DeadLetterProducerFatalError(Exception):
    """The dead-letter and audit producer had a fatal error: the service stopped and must be restarted."""


class RelayService:
    """Kafka -> decode -> translate -> TikTok, with dead letters and consent audit; see the module docstring."""

    def __init__(self, config: RelayConfig, tokens: TokenStore | None = None) -> None:
        self._config = config
        kafka = config.kafka
        self._translator = Translator(config.translation)
        self.topics = self._translator.topics
        undecodable = config.schemas.undecodable_topics(self.topics)
        if undecodable:
            raise ConfigError(
                f"no schema for topics {', '.join(undecodable)}: add schemas.topics entries or a registry"
            )
        self._decoder = Decoder.from_settings(
            config.schemas, config.resolve_path, fetch_in_background=True, reads=self._translator.field_paths
        )
        self._tokens = tokens if tokens is not None else TokenStore.from_env()
        self._consent_table = consent_table_reader(
            config.consent_table, config.kafka, config.schemas, config.resolve_path
        )
        withhold = None if self._consent_table is None else self._consent_table.table.withheld_reason
        self._sender = Sender(config.tiktok, self._tokens, withhold=withhold)
        self._publisher = DeadLetterPublisher(config.deadletter, kafka, __version__)
        self._ledger = Ledger()
        self._pipeline = Pipeline(
            self._decoder,
            self._translator,
            self._sender,
            self._publisher,
            self._ledger,
            transient_retry_max_s=kafka.transient_retry_max_s,
        )
        self._handover = Handover(
            self._ledger, (self._pipeline, self._sender), self._sender.flush, kafka.drain_deadline_s
        )
        self._intake = KafkaIntake(kafka, self.topics, self._handover)
        self._backpressure = BackPressure.from_bound(kafka.max_unsettled, kafka.resume_fraction)
        self._span_limit = SpanLimit.from_bound(kafka.max_partition_span, kafka.resume_fraction)
        self._next_age_report = 0.0
        self._health = HealthServer(
            HealthChecks(
                alive=self._alive,
                assigned=lambda: bool(self._intake.assignment),
                broker_reachable=lambda: self._intake.broker_reachable,
                sender_ready=lambda: self._sender.ready,
                deadletter_writable=lambda: self._publisher.ready,
                consent_table_caught_up=self._consent_table_caught_up,
            ),
            config.observability.http_host,
            config.observability.http_port,
        )
        self._stall_limit_s = max(STALL_LIMIT_FLOOR_S, 3 * kafka.drain_deadline_s)
        self._last_turn = time.monotonic()
        self._stopping = False

    @property
    def http_port(self) -> int | None:
        """The bound port of the health and metrics endpoints, once started."""
        return self._health.port

    async def run(self, stop: asyncio.Event) -> None:
        """Start, poll until ``stop`` is set, then drain and close (also when starting or polling failed)."""
        try:
            await self._start(stop)
            await self._poll_until(stop)
        finally:
            await self._shutdown()
        if self._publisher.fatal is not None:
            # A fatal producer cannot write again; a restart (Kubernetes restarts a pod that exits non-zero) gets
            # a new one, and every message whose write was not acknowledged is consumed again.
            raise DeadLetterProducerFatalError(self._publisher.fatal)

    # -- lifecycle -----------------------------------------------------------------------------------------------

    async def _start(self, stop: asyncio.Event) -> None:
        await self._health.start()
        await self._sender.start()
        await self._publisher.start(self.topics)
        if self._consent_table is not None:
            # Nothing is consumed (so nothing is sent) before the table holds every decision published so far.
            self._consent_table.start()
            if not await self._consent_table.wait_caught_up(stop):
                return
            self._last_turn = time.monotonic()  # the stall limit counts from the poll loop's start
        await self._intake.start()
        log.info(
            "relay_started",
            version=__version__,
            topics=self.topics,
            group_id=self._config.kafka.group_id,
            tokens=repr(self._tokens),
        )

    async def _poll_until(self, stop: asyncio.Event) -> None:
        batch = self._config.kafka.consume_batch
        ledger, intake, pipeline, backpressure = self._ledger, self._intake, self._pipeline, self._backpressure
        while not stop.is_set() and self._publisher.fatal is None:
            unsettled = ledger.unsettled
            flow = backpressure.decide(unsettled, intake.paused)
            held = self._span_limit.decide(ledger.spans(), intake.held)
            limit = backpressure.fetch_limit(unsettled, batch)
            messages = await intake.cycle(ledger.take_positions(), flow, limit, held)
            self._last_turn = time.monotonic()
            if messages:
                await pipeline.process_in_slices(messages)
            pipeline.flush_metrics()
            metrics.UNSETTLED.set(ledger.unsettled)
            self._set_sender_metrics()
            if self._last_turn >= self._next_age_report:
                self._report_ages()
                self._next_age_report = self._last_turn + AGE_REPORT_S

    def _set_sender_metrics(self) -> None:
        sender = self._sender
        assigned = set(self._ledger.partitions)
        metrics.SENDER_RETAINED_EVENTS.set(sender.pending)
        metrics.SENDER_RETAINED_JOBS.set(sender.retained_jobs)
        metrics.SENDER_RETAINED_UNASSIGNED.set(sum(n for key, n in sender.retained.items() if key not in assigned))

    async def _shutdown(self) -> None:
        """Stop fetching, drain within the deadline, close the sender and publisher, commit what is settled, close
        the rest."""
        self._stopping = True
        deadline_s = self._config.kafka.drain_deadline_s
        log.info("relay_draining", unsettled=self._ledger.unsettled, deadline_s=deadline_s)
        await self._sender.flush()
        left = await wait_settled(lambda: self._ledger.unsettled, deadline_s)
        if left:
            log.warning("relay_drain_deadline_passed", unsettled=left)
        self._handover.drained()
        try:
            # The final commit comes last: deliveries and dead-letter writes that complete while the sender and the
            # publisher close settle first, so they are committed rather than sent again after the restart.
            await self._sender.close()
            await self._publisher.close(timeout_s=PUBLISHER_CLOSE_S)
            await asyncio.sleep(0)  # one loop turn: the settle callbacks of the last acknowledgements run
        finally:
            self._pipeline.close()
            try:
                await self._intake.close(self._ledger.positions())
            finally:
                if self._consent_table is not None:
                    await self._consent_table.close()
                self._decoder.close()
                await self._health.stop()
        self._pipeline.flush_metrics()
        metrics.UNSETTLED.set(0)
        log.info("relay_stopped", unsettled_left=left)

    def _consent_table_caught_up(self) -> bool:
        return self._consent_table is None or self._consent_table.caught_up

    def _report_ages(self) -> None:
        """The oldest unsettled message's age per partition: a stuck partition shows (and alerts) by name."""
        for (topic, partition), age in self._ledger.oldest_unsettled_ages().items():
            metrics.OLDEST_UNSETTLED_AGE.labels(topic, str(partition)).set(round(age, 1))

    def _alive(self) -> bool:
        table = self._consent_table
        if self._stopping:
            return True
        if table is not None and not table.alive:
            return False  # withdrawals are no longer heard: a restart rebuilds the table
        if table is not None and not table.caught_up:
            return True  # the poll loop starts once the table caught up; readiness says why it waits
        return time.monotonic() - self._last_turn < self._stall_limit_s
