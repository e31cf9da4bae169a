"""The sender: micro-batches events per destination and drives each request to a final outcome per event.

``send`` encodes the event once and adds it to the batcher; no task, future or callback per event: when the
event's outcome is known, the caller's ``report`` is called with the caller's context (``submit`` is the same with a
future, for callers that await one event). A batch that fills up, or lingers out (one ``loop.call_at`` timer for
all batches), becomes a job: one task per request, which loops until the job's events are settled:

- delivered (code 0/20001): each event reports ``Delivered``;
- retry (timeouts, connection errors, HTTP 5xx, 40100, 40132/40133, 5xxxx codes): sleep a backoff with full
  jitter and send the same body again, until the retry budget is used up, then ``RetryBudgetExhaustedError``;
- isolate (40000/40002, HTTP 400/413/422): split the batch in halves, each a new job; a single rejected event
  resolves to ``TikTokRejectionError`` with TikTok's code, message and request_id;
- auth fault (40001, 40063, 40102, 40104, 40105, HTTP 401/403/404, no token): hold. ``ready`` turns False, a
  warning is logged once per interval, and the job retries slowly. When one destination has been refused for
  ``destination_fault_after_s`` while others are delivered, its jobs end in ``DestinationFaultError`` (dead-letter
  reason ``destination_auth_failed``) so that its events stop holding every partition; a global fault (no other
  destination delivered) is held for ever (``consumer.sending.destinations``);
- permanent (other HTTP 4xx): ``TikTokRejectionError`` for every event of the job.

``forget`` gives up the events of revoked or lost partitions wherever they wait (a lingering batch, a job sleeping
between retries or holding): they report ``GIVEN_UP`` (a future is cancelled), a job left empty ends, and a job
that keeps other events sends only those from then on. The partition's next owner delivers them; nothing is sent,
retried or dead-lettered for a partition this process no longer owns, and a rebalance during a token hold leaves
nothing behind in memory.

Before every request (the first send, each retry, each half of a split), once the request holds its in-flight slot
and its rate-limiter token, the optional ``withhold`` check (the consent table) is asked about each event that names
a subject; an event it withholds leaves the job unsent and resolves to ``WithheldAtSend`` for the caller to audit.

Every request waits for an in-flight slot and for the global rate limiter (``RequestLimits``).

This module keeps the batching side (submit, flush, forget, close and the linger timer); one request's life is
``consumer.sending.driver``, the outcome bookkeeping ``consumer.sending.outcomes`` and the configuration-fault holds
``consumer.sending.holds``.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TypeVar

import aiohttp

from consumer.batching.batcher import Batch, Batcher
from consumer.model import DeadLettered, Destination, OutboundEvent
from consumer.sending.body import ENVELOPE_RESERVE_BYTES, SEPARATOR_BYTES, encode_event
from consumer.sending.client import TikTokClient
from consumer.sending.driver import RequestDriver, Withhold
from consumer.sending.errors import EventEncodingError
from consumer.sending.holds import Holds
from consumer.sending.job import GivenUp, Job, Pending, Report, Reported, SendOutcome, SourcePartition
from consumer.sending.outcomes import Outcomes, failure_of
from consumer.sending.settings import TikTokSettings
from consumer.sending.tokens import TokenStore

__all__ = ["Report", "Reported", "SendOutcome", "Sender", "SourcePartition", "Withhold"]

C = TypeVar("C")


class Sender:
    """Batches, sends and settles events for one TikTok app. See the module docstring for the policy."""

    def __init__(
        self,
        settings: TikTokSettings,
        tokens: TokenStore,
        *,
        session: aiohttp.ClientSession | None = None,
        clock: Callable[[], float] = time.time,
        rand: Callable[[], float] = random.random,
        withhold: Withhold | None = None,
    ) -> None:
        """``clock`` gives wall-clock seconds (failure times, the retry time budget); ``rand`` draws the jitter;
        ``withhold`` is the consent table's check, asked before every request."""
        self._settings = settings
        self._clock = clock
        self._client = TikTokClient(settings, session)
        self._batcher: Batcher[Destination, Pending] = Batcher(
            settings.max_batch_events, settings.max_batch_bytes - ENVELOPE_RESERVE_BYTES, settings.linger_ms / 1000
        )
        self._outcomes = Outcomes()
        self._holds = Holds(settings, clock)
        self._driver = RequestDriver(
            settings,
            tokens,
            self._client,
            outcomes=self._outcomes,
            holds=self._holds,
            spawn=self._spawn,
            clock=clock,
            rand=rand,
            withhold=withhold,
        )
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._jobs: dict[asyncio.Task[None], Job] = {}
        self._closed = False

    async def start(self) -> None:
        """Open the HTTP session; call once, from the event loop that will submit."""
        self._loop = asyncio.get_running_loop()
        await self._client.start()

    @property
    def ready(self) -> bool:
        """True once started, until closed, except while a configuration fault (token, permission) holds events."""
        return self._loop is not None and not self._closed and not self._holds.any

    @property
    def pending(self) -> int:
        """Events submitted whose outcome is not known yet."""
        return self._outcomes.pending

    @property
    def retained(self) -> Mapping[SourcePartition, int]:
        """``pending`` per source partition (partitions with none are absent)."""
        return self._outcomes.retained

    @property
    def retained_jobs(self) -> int:
        """Requests in flight, waiting to retry or holding."""
        return len(self._jobs)

    def send(self, event: OutboundEvent, context: C, report: Report[C]) -> None:
        """Queue ``event`` for sending; ``report(context, outcome)`` is called once with its final outcome
        (``GIVEN_UP`` when its partition is given up or the sender closes first). Never blocks."""
        loop = self._loop
        if loop is None or self._closed:
            raise RuntimeError("Sender.send() needs a started, open sender")
        try:
            payload = encode_event(event.event)
        except TypeError as error:
            failure = failure_of(EventEncodingError(str(error)), self._clock(), event.route)
            report(context, DeadLettered(event.ref, failure))
            return
        pending = Pending(payload, event.ref, event.route, context, report, event.subject)
        self._outcomes.retain(pending)
        for batch in self._batcher.add(event.destination, pending, len(payload) + SEPARATOR_BYTES, loop.time):
            self._dispatch(batch)
        if self._timer is None:
            self._schedule_linger()

    def submit(self, event: OutboundEvent) -> asyncio.Future[SendOutcome]:
        """``send`` with a future that resolves to the event's final outcome (cancelled when it is given up)."""
        if self._loop is None:
            raise RuntimeError("Sender.submit() needs a started, open sender")
        future: asyncio.Future[SendOutcome] = self._loop.create_future()
        self.send(event, future, _resolve)
        return future

    async def flush(self) -> None:
        """Send every lingering batch now (does not wait for the outcomes)."""
        self._dispatch_open()

    def forget(self, partitions: Iterable[SourcePartition]) -> None:
        """Give up every event of ``partitions`` (revoked or lost): cancel their futures and stop sending them."""
        gone = set(partitions)
        if not self._outcomes.holds_any(gone):
            return
        self._dispatch_open()  # a lingering batch becomes a job here, and is filtered like the others
        for task, job in list(self._jobs.items()):
            kept = [entry for entry in job.entries if (entry.ref.topic, entry.ref.partition) not in gone]
            if len(kept) == len(job.entries):
                continue
            given_up = [entry for entry in job.entries if (entry.ref.topic, entry.ref.partition) in gone]
            job.entries = kept
            self._outcomes.give_up(given_up)
            if not kept:
                del self._jobs[task]
                task.cancel()

    async def close(self) -> None:
        """Flush, wait up to ``close_timeout_s`` for requests to settle, cancel the rest, close the session.

        Events of cancelled jobs report ``GIVEN_UP`` (futures are cancelled), never an outcome: they are unsettled,
        so their offsets are not committed and they are replayed from Kafka on the next start (TikTok's dedup
        absorbs any overlap)."""
        if self._closed:
            return
        await self.flush()
        self._closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._settings.close_timeout_s
        while self._jobs and (remaining := deadline - loop.time()) > 0:
            await asyncio.wait(set(self._jobs), timeout=remaining)
        tasks = list(self._jobs)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._holds.clear()
        await self._client.close()

    # -- batching ------------------------------------------------------------------------------------------------

    def _schedule_linger(self) -> None:
        deadline = self._batcher.next_deadline()
        if deadline is not None and self._loop is not None:
            self._timer = self._loop.call_at(deadline, self._on_linger)

    def _on_linger(self) -> None:
        assert self._loop is not None
        self._timer = None
        for batch in self._batcher.due(self._loop.time()):
            self._dispatch(batch)
        self._schedule_linger()

    def _dispatch_open(self) -> None:
        for batch in self._batcher.drain():
            self._dispatch(batch)

    def _dispatch(self, batch: Batch[Destination, Pending]) -> None:
        self._spawn(Job(batch.key, batch.items))

    def _spawn(self, job: Job) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._driver.run(job))
        self._jobs[task] = job
        task.add_done_callback(lambda done: self._jobs.pop(done, None))


def _resolve(future: asyncio.Future[SendOutcome], outcome: Reported) -> None:
    """The report of ``submit``: the outcome into the future (a future its caller cancelled stays so)."""
    if future.done():
        return
    if isinstance(outcome, Exception):
        future.set_exception(outcome)
    elif isinstance(outcome, GivenUp):
        future.cancel()
    else:
        future.set_result(outcome)
