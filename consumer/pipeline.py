"""The per-message flow: decode -> translate -> send, audit or dead-letter -> settle.

``Pipeline.process`` takes a consumed batch and starts every message on its way without waiting for anything: the
sender reports each event's outcome to ``_sent`` (a request at a time, no future per event), the publisher returns
futures with a done-callback (not a task per message), and the message is settled in the ledger once its outcome is
durable:

- delivered: TikTok accepted it;
- dead-lettered: decode, mapping or policy rejected it, or the sender gave up on it, and Kafka acknowledged its
  dead-letter record;
- consent-dropped: policy withheld it, or the sender found just before a send that the consent table withholds it
  now (consent withdrawn after the event), and Kafka acknowledged its audit record;
- skipped: a configured skip rule declares the record not a conversion; settled at once, nothing to make durable.

A transient decode failure (schema registry outage) dead-letters nothing: the message and every later one wait, in
order, and are retried with backoff, so an outage costs one registry call per backoff interval, not one per
message. A schema being fetched in the background (``ResourcePendingError``) holds the message and every later one the
same way, but only until the fetch ends: they are retried at once, with no backoff and no warning. A future that is
cancelled (the sender or publisher shut down) leaves its message unsettled: it is replayed
from Kafka after a restart.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable
from functools import partial
from typing import Protocol

import structlog
from prometheus_client import Counter

from consumer.backoff import exponential_backoff
from consumer.model import (
    ConsentWithheld,
    DeadLettered,
    Delivered,
    DomainRecord,
    Failure,
    OutboundEvent,
    ResourcePendingError,
    Settled,
    Skipped,
    SourceMessage,
    SourceRef,
    Stage,
    TransientError,
    WithheldAtSend,
)
from consumer.observability import metrics
from consumer.observability.coverage import CoverageTally, record_failure
from consumer.observability.metrics import child
from consumer.sending.job import Report, Reported
from consumer.settlement.ledger import Ledger, PartitionKey, SettleToken
from consumer.triage import Decoding, Failed, Held, internal_failure, triage

log = structlog.get_logger(__name__)

FIRST_RETRY_S = 0.5
RETRY_CHUNK = 500
"""Waiting messages retried per event-loop turn, so a long wait list does not stall the loop."""
PROCESS_SLICE = 125
"""Consumed messages started per event-loop turn (``process_in_slices``): a whole consumed batch (up to
``kafka.consume_batch``) decoded and mapped in one turn kept TikTok's responses and the linger timer waiting
behind it."""


class Translating(Protocol):
    def translate(
        self, record: DomainRecord, ref: SourceRef, now_ms: int
    ) -> OutboundEvent | ConsentWithheld | Skipped: ...


Sent = tuple[SourceMessage, SettleToken, str, str, str]
"""What the pipeline keeps per event the sender holds, and nothing more: the source message (a dead-letter record
keeps its bytes), its settle token, and the route, event name and event_id its outcome is counted and audited under.
Not the ``OutboundEvent``: the sender keeps the encoded event it sends, so an unsettled message does not hold its
mapped event twice."""


class Sending(Protocol):
    def send(self, event: OutboundEvent, context: Sent, report: Report[Sent]) -> None: ...


class Publishing(Protocol):
    def dead_letter(self, message: SourceMessage, failure: Failure) -> asyncio.Future[None]: ...

    def audit(self, withheld: ConsentWithheld) -> asyncio.Future[None]: ...


def _durable(future: asyncio.Future[None], ref: SettleToken, kind: str) -> bool:
    """True if a dead-letter or audit write completed successfully. A cancelled or failed write leaves its message
    unsettled: it is consumed again after a restart, never committed past without a durable record."""
    if future.cancelled():
        return False
    error = future.exception()
    if error is not None:
        log.error(
            "durable_write_error_unsettled",
            kind=kind,
            topic=ref.topic,
            partition=ref.partition,
            offset=ref.offset,
            error=repr(error),
        )
        return False
    return True


def withheld_at_send(outcome: WithheldAtSend, route: str, event: str, event_id: str, now_ms: int) -> ConsentWithheld:
    """The audit record of an event (``route``, its event name and id) the consent table withheld at send time: the
    one a consent drop writes."""
    return ConsentWithheld(outcome.ref, route, event, event_id, outcome.reason, now_ms)


class Pipeline:
    """Moves consumed messages to their outcome and settles them in ``ledger``. Runs on the event loop only."""

    def __init__(
        self,
        decoder: Decoding,
        translator: Translating,
        sender: Sending,
        publisher: Publishing,
        ledger: Ledger,
        *,
        transient_retry_max_s: float = 30.0,
        clock_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self._decoder = decoder
        self._translate = translator.translate
        self._sender = sender
        self._publisher = publisher
        self._ledger = ledger
        self._retry_max_s = transient_retry_max_s
        self._clock_ms = clock_ms
        self._report: Report[Sent] = self._sent  # one bound method for every event the sender holds
        # Per-message counts are tallied here and added to the counters once per poll-loop turn (``flush_metrics``);
        # the tally is keyed by cached children of labelled metrics (``labels()`` validates and locks on every
        # call). Label values are bounded: topics and routes from the config, event names, stages and reasons from
        # fixed sets.
        self._tally: defaultdict[Counter, int] = defaultdict(int)
        self._coverage = CoverageTally()
        self._held: deque[tuple[SourceMessage, SettleToken]] = deque()
        self._held_failures = 0
        self._retry_timer: asyncio.Handle | None = None
        self._pending: asyncio.Future[object] | None = None  # what the first held message waits for (no backoff)
        self._awaited: asyncio.Future[object] | None = None  # the same, once the retry is armed on it

    @property
    def held(self) -> int:
        """Messages waiting for a transient decode failure to clear (or a schema fetch to end)."""
        return len(self._held)

    def process(self, messages: list[SourceMessage]) -> None:
        """Track and start a consumed batch (messages of partitions no longer assigned are skipped)."""
        # Hot path: the clocks are read, and the consumed messages counted, once per batch rather than per message.
        tokens = self._ledger.track_all([message.ref for message in messages])
        now_ms = self._clock_ms()
        consumed: dict[str, int] = {}
        for message, token in zip(messages, tokens, strict=True):
            if token is None:
                continue
            topic = message.ref.topic
            consumed[topic] = consumed.get(topic, 0) + 1
            if self._held:
                self._held.append((message, token))  # keep order behind the message that is waiting
            elif not self._start(message, token, now_ms):
                self._hold(message, token)
        for topic, count in consumed.items():
            self._tally[child(metrics.CONSUMED, topic)] += count

    async def process_in_slices(self, messages: list[SourceMessage]) -> None:
        """``process`` a consumed batch ``PROCESS_SLICE`` messages at a time, letting the event loop run between
        slices (responses, the linger timer, requests of batches that filled up). The slices are processed in order,
        so every partition's messages still start in the order they were consumed."""
        for start in range(0, len(messages), PROCESS_SLICE):
            if start:
                await asyncio.sleep(0)
            self.process(messages[start : start + PROCESS_SLICE])

    def flush_metrics(self) -> None:
        """Add the counts tallied since the last call to the Prometheus counters."""
        for counter, count in self._tally.items():
            counter.inc(count)
        self._tally.clear()
        self._coverage.flush()

    def forget(self, partitions: Iterable[PartitionKey]) -> None:
        """Drop waiting messages of revoked partitions: their next owner replays them."""
        gone = set(partitions)
        if self._held:
            self._held = deque(held for held in self._held if (held[1].topic, held[1].partition) not in gone)

    def close(self) -> None:
        """Stop retrying; waiting messages stay unsettled (replayed after a restart)."""
        if self._retry_timer is not None:
            self._retry_timer.cancel()
            self._retry_timer = None
        if self._awaited is not None:
            self._awaited.remove_done_callback(self._resource_ready)
            self._awaited = None
        self._held.clear()

    # -- one message -----------------------------------------------------------------------------------------

    def _start(self, message: SourceMessage, token: SettleToken, now_ms: int) -> bool:
        """Triage the message and hand it to the sender, the audit or the dead-letter topic; False when decoding
        failed transiently (the message must wait)."""
        result = triage(self._decoder, self._translate, message, now_ms)
        if isinstance(result, Held):
            self._wait_for(result.error)
            return False
        if isinstance(result, Failed):
            if result.failure.stage is not Stage.DECODE:
                self._tally[child(metrics.DECODED, message.ref.topic)] += 1
            self._dead_letter(message, token, result.failure)
            return True
        self._tally[child(metrics.DECODED, message.ref.topic)] += 1
        if isinstance(result, ConsentWithheld):
            self._audit(result, token)
        elif isinstance(result, Skipped):
            self._tally[child(metrics.SKIPPED, result.rule)] += 1
            self._settle(token, Settled.SKIPPED)  # nothing to make durable: the rule is in the config
        else:
            self._tally[child(metrics.MAPPED, result.route, result.event.event)] += 1
            self._coverage.add(result)
            tiktok = result.event
            self._sender.send(result, (message, token, result.route, tiktok.event, tiktok.event_id), self._report)
        return True

    def _sent(self, sent: Sent, outcome: Reported) -> None:
        """The sender's report of one event; a given-up event stays unsettled (its partition's next owner, or the
        next start, replays it)."""
        message, token, route, event, event_id = sent
        if isinstance(outcome, Delivered):
            self._tally[child(metrics.DELIVERED, route, event)] += 1
            self._settle(token, Settled.DELIVERED)
        elif isinstance(outcome, WithheldAtSend):
            self._tally[child(metrics.WITHHELD_AT_SEND, route, outcome.reason)] += 1
            self._audit(withheld_at_send(outcome, route, event, event_id, self._clock_ms()), token)
        elif isinstance(outcome, DeadLettered):
            self._dead_letter(message, token, outcome.failure, route, event)
        elif isinstance(outcome, Exception):
            log.error("send_internal_error", error=repr(outcome), route=route)
            failure = internal_failure(Stage.SEND, outcome, self._clock_ms(), route)
            self._dead_letter(message, token, failure, route, event)

    def _audit(self, withheld: ConsentWithheld, token: SettleToken) -> None:
        self._tally[child(metrics.CONSENT_DROPPED, withheld.route, withheld.event)] += 1
        self._publisher.audit(withheld).add_done_callback(partial(self._audited, token))

    def _audited(self, token: SettleToken, future: asyncio.Future[None]) -> None:
        if _durable(future, token, "audit"):
            self._settle(token, Settled.CONSENT_DROPPED)

    def _dead_letter(
        self,
        message: SourceMessage,
        token: SettleToken,
        failure: Failure,
        route: str | None = None,
        event: str | None = None,
    ) -> None:
        """Dead-letter ``message``; ``route`` and ``event`` name the event it became, if it was mapped."""
        future = self._publisher.dead_letter(message, failure)
        future.add_done_callback(partial(self._dead_lettered, token, failure, route, event))

    def _dead_lettered(
        self, token: SettleToken, failure: Failure, route: str | None, event: str | None, future: asyncio.Future[None]
    ) -> None:
        if not _durable(future, token, "dead_letter"):
            return
        self._tally[child(metrics.DEAD_LETTERED, failure.stage.value, failure.reason)] += 1
        record_failure(route, event, failure)
        self._settle(token, Settled.DEAD_LETTERED)

    def _settle(self, token: SettleToken, outcome: Settled) -> None:
        if self._ledger.settle(token):
            self._tally[child(metrics.SETTLED, token.topic, outcome)] += 1

    # -- transient failures ------------------------------------------------------------------------------------

    def _wait_for(self, error: TransientError) -> None:
        if isinstance(error, ResourcePendingError):
            self._pending = error.ready  # ends on its own: retried then, not counted as a failure
            return
        metrics.RETRIED.labels(cause="registry_unavailable").inc()
        if self._held_failures == 0:
            log.warning("decode_transient_failure_holding", error=str(error), error_class=type(error).__name__)

    def _hold(self, message: SourceMessage, token: SettleToken) -> None:
        self._held.append((message, token))
        self._arm_retry()

    def _arm_retry(self) -> None:
        awaited, self._pending = self._pending, None
        if awaited is not None:
            self._awaited = awaited
            awaited.add_done_callback(self._resource_ready)
            return
        self._held_failures += 1
        delay = exponential_backoff(self._held_failures, FIRST_RETRY_S, self._retry_max_s)
        self._retry_timer = asyncio.get_running_loop().call_later(delay, self._retry_held)

    def _resource_ready(self, future: asyncio.Future[object]) -> None:
        del future
        self._awaited = None
        self._retry_held()

    def _retry_held(self) -> None:
        """Retry waiting messages in order, a chunk per loop turn; stop at the first that still fails and back off
        further."""
        self._retry_timer = None
        now_ms = self._clock_ms()
        for _ in range(RETRY_CHUNK):
            if not self._held:
                break
            message, token = self._held[0]
            if not self._start(message, token, now_ms):
                self._arm_retry()
                return
            self._held.popleft()
        if self._held:
            self._retry_timer = asyncio.get_running_loop().call_soon(self._retry_held)
            return
        if self._held_failures:
            log.info("decode_transient_failure_cleared", attempts=self._held_failures)
        self._held_failures = 0
