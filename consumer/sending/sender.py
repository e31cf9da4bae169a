"""The sender: micro-batches events per destination and drives each request to a final outcome per event.

``submit`` encodes the event once, adds it to the batcher and returns a future; no task per event. A batch that
fills up, or lingers out (one ``loop.call_at`` timer for all batches), becomes a job: one task per request,
which loops until the job's events are settled:

- delivered (code 0/20001): each future resolves to ``Delivered``;
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
between retries or holding): their futures are cancelled, a job left empty ends, and a job that keeps other events
sends only those from then on. The partition's next owner delivers them; nothing is sent, retried or dead-lettered
for a partition this process no longer owns, and a rebalance during a token hold leaves nothing behind in memory.

Before every request (the first send, each retry, each half of a split), once the request holds its in-flight slot
and its rate-limiter token, the optional ``withhold`` check (the consent table) is asked about each event that names
a subject; an event it withholds leaves the job unsent and resolves to ``WithheldAtSend`` for the caller to audit.

Every request waits for an in-flight slot and for the global rate limiter (``RequestLimits``).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

import aiohttp
import structlog

from consumer.batching.batcher import Batch, Batcher
from consumer.model import (
    ConsentSubject,
    DeadLettered,
    Delivered,
    Destination,
    Failure,
    OutboundEvent,
    SourceRef,
    WithheldAtSend,
)
from consumer.observability.logging import mask_text
from consumer.observability.metrics import (
    AUTH_FAULT,
    BATCH_EVENTS,
    BATCH_SPLITS,
    IN_FLIGHT_REQUESTS,
    REQUEST_SECONDS,
    RETRIED,
    SENT,
    TIKTOK_RESPONSES,
    UNHASHED_PII_REJECTIONS,
)
from consumer.sending.body import (
    ENVELOPE_RESERVE_BYTES,
    SEPARATOR_BYTES,
    RequestEncoder,
    TrackRequest,
    encode_event,
)
from consumer.sending.classify import (
    TOKEN_MISSING,
    Decision,
    Verdict,
    classify_response,
    classify_transport_error,
)
from consumer.sending.client import TikTokClient, TrackResponse, TransportError
from consumer.sending.destinations import DestinationFaultPolicy, FaultAction
from consumer.sending.errors import (
    DestinationFaultError,
    EventEncodingError,
    RetryBudgetExhaustedError,
    SendError,
    TikTokRejectionError,
)
from consumer.sending.isolate import can_isolate, split_in_half
from consumer.sending.limits import RequestLimits
from consumer.sending.retry import Backoff, RetryBudget, parse_retry_after
from consumer.sending.settings import TikTokSettings
from consumer.sending.tokens import TokenStore

log = structlog.get_logger(__name__)

SendOutcome = Delivered | DeadLettered | WithheldAtSend
SourcePartition = tuple[str, int]
"""A source topic and partition, as the intake names them (the sender only uses it to give work up)."""
Withhold = Callable[[ConsentSubject], str | None]
"""Asked just before a send: the reason to withhold an event about this subject now, or ``None``."""


class _Pending:
    """One submitted event: its encoded JSON, its bookkeeping and the future its caller awaits."""

    __slots__ = ("future", "payload", "ref", "route", "subject")

    def __init__(
        self,
        payload: bytes,
        ref: SourceRef,
        route: str,
        future: asyncio.Future[SendOutcome],
        subject: ConsentSubject | None = None,
    ) -> None:
        self.payload = payload
        self.ref = ref
        self.route = route
        self.future = future
        self.subject = subject


@dataclass(slots=True)
class _Job:
    """A request's events and their shared history; the halves of a split batch inherit it."""

    destination: Destination
    entries: list[_Pending]
    attempts: int = 0  # requests that carried these events
    failures: int = 0  # consecutive transient failures, counted against the retry budget
    first_failure_s: float | None = None  # first failure of any kind (dead-letter header)
    retry_since_s: float | None = None  # first of the current run of transient failures (time budget)
    last: TrackResponse | None = None  # the latest answer (dead-letter context); None after a transport error
    request: TrackRequest[_Pending] | None = None  # the encoded request of ``entries``, rebuilt when they change

    def half(self, entries: list[_Pending]) -> _Job:
        return _Job(self.destination, entries, self.attempts, 0, self.first_failure_s, None, self.last)


@dataclass(frozen=True, slots=True)
class _Attempt:
    verdict: Verdict
    response: TrackResponse | None
    detail: str  # what happened, for logs and dead-letter messages; never a token or PII
    sent: bool = True


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
        self._withhold = withhold
        self._tokens = tokens
        self._clock = clock
        self._rand = rand
        self._client = TikTokClient(settings, session)
        self._encoder = RequestEncoder(settings.test_event_code, settings.partner_name)
        self._batcher: Batcher[Destination, _Pending] = Batcher(
            settings.max_batch_events, settings.max_batch_bytes - ENVELOPE_RESERVE_BYTES, settings.linger_ms / 1000
        )
        self._limits = RequestLimits(settings.max_in_flight, settings.max_requests_per_second, settings.rate_burst)
        self._backoff = Backoff.from_settings(settings)
        self._budget = RetryBudget.from_settings(settings)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._timer: asyncio.TimerHandle | None = None
        self._jobs: dict[asyncio.Task[None], _Job] = {}
        self._destination_faults = DestinationFaultPolicy.from_settings(settings)
        self._holds: dict[Destination, float] = {}  # held destination -> since when (clock seconds)
        self._dead_lettering: set[Destination] = set()  # held destinations whose jobs the policy dead-letters
        self._last_delivery_s: dict[Destination, float] = {}  # one entry per destination: routes bound them
        self._last_auth_log_s = float("-inf")
        self._retained: Counter[SourcePartition] = Counter()  # events whose outcome is not known, per partition
        self._closed = False

    # -- the interface -------------------------------------------------------------------------------------------

    async def start(self) -> None:
        """Open the HTTP session; call once, from the event loop that will submit."""
        self._loop = asyncio.get_running_loop()
        await self._client.start()

    @property
    def ready(self) -> bool:
        """True once started, until closed, except while a configuration fault (token, permission) holds events."""
        return self._loop is not None and not self._closed and not self._holds

    @property
    def pending(self) -> int:
        """Events submitted whose outcome is not known yet."""
        return self._retained.total()

    @property
    def retained(self) -> Mapping[SourcePartition, int]:
        """``pending`` per source partition (partitions with none are absent)."""
        return self._retained

    @property
    def retained_jobs(self) -> int:
        """Requests in flight, waiting to retry or holding."""
        return len(self._jobs)

    def submit(self, event: OutboundEvent) -> asyncio.Future[SendOutcome]:
        """Queue ``event`` for sending; the future resolves to its final outcome. Never blocks."""
        loop = self._loop
        if loop is None or self._closed:
            raise RuntimeError("Sender.submit() needs a started, open sender")
        future: asyncio.Future[SendOutcome] = loop.create_future()
        try:
            payload = encode_event(event.event)
        except TypeError as error:
            now = self._clock()
            future.set_result(DeadLettered(event.ref, self._failure(EventEncodingError(str(error)), now, event.route)))
            return future
        self._retained[event.ref.topic, event.ref.partition] += 1
        pending = _Pending(payload, event.ref, event.route, future, event.subject)
        for batch in self._batcher.add(event.destination, pending, len(payload) + SEPARATOR_BYTES, loop.time()):
            self._dispatch(batch)
        if self._timer is None:
            self._schedule_linger()
        return future

    async def flush(self) -> None:
        """Send every lingering batch now (does not wait for the outcomes)."""
        self._dispatch_open()

    def forget(self, partitions: Iterable[SourcePartition]) -> None:
        """Give up every event of ``partitions`` (revoked or lost): cancel their futures and stop sending them."""
        gone = set(partitions)
        if not gone.intersection(self._retained):
            return
        self._dispatch_open()  # a lingering batch becomes a job here, and is filtered like the others
        for task, job in list(self._jobs.items()):
            kept = [entry for entry in job.entries if (entry.ref.topic, entry.ref.partition) not in gone]
            if len(kept) == len(job.entries):
                continue
            given_up = [entry for entry in job.entries if (entry.ref.topic, entry.ref.partition) in gone]
            job.entries = kept
            for entry in given_up:
                entry.future.cancel()
            self._release(given_up)
            if not kept:
                del self._jobs[task]
                task.cancel()

    async def close(self) -> None:
        """Flush, wait up to ``close_timeout_s`` for requests to settle, cancel the rest, close the session.

        Futures of cancelled jobs are cancelled, never resolved: their events are unsettled, so their offsets are
        not committed and they are replayed from Kafka on the next start (TikTok's dedup absorbs any overlap)."""
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
        self._dead_lettering.clear()
        self._set_holds_metric()
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

    def _dispatch(self, batch: Batch[Destination, _Pending]) -> None:
        self._spawn(_Job(batch.key, batch.items))

    def _spawn(self, job: _Job) -> None:
        assert self._loop is not None
        task = self._loop.create_task(self._run(job))
        self._jobs[task] = job
        task.add_done_callback(lambda done: self._jobs.pop(done, None))

    # -- one request's life --------------------------------------------------------------------------------------

    async def _run(self, job: _Job) -> None:
        try:
            await self._drive(job)
        except asyncio.CancelledError:
            self._cancel(job)
            raise
        except Exception as error:  # a bug must not leave futures hanging: they carry the error
            log.exception("sender_job_failed", events=len(job.entries))
            self._settle_with_exception(job, error)

    async def _drive(self, job: _Job) -> None:
        while True:
            attempt = await self._attempt(job)
            if attempt is None:
                return  # the consent table withheld every event of the job
            if attempt.sent:
                job.attempts += 1
            decision = attempt.verdict.decision
            if decision is Decision.DELIVERED:
                self._release_hold(job.destination)
                self._last_delivery_s[job.destination] = self._clock()
                self._settle_delivered(job, attempt.response)
                return
            if decision is Decision.AUTH_FAULT:
                self._hold(job, attempt)
                if self._destination_fault_action(job.destination) is FaultAction.DEAD_LETTER:
                    self._give_up_destination(job, attempt)
                    return
                await asyncio.sleep(self._settings.auth_fault_retry_s * (0.5 + 0.5 * self._rand()))
                continue
            now = self._clock()
            job.first_failure_s = job.first_failure_s if job.first_failure_s is not None else now
            job.last = attempt.response
            if decision is Decision.ISOLATE:
                self._release_hold(job.destination)  # a content verdict: the token and permission passed
                self._isolate(job, attempt)
                return
            if decision is Decision.PERMANENT:
                self._reject(job, attempt)
                return
            delay = self._retry_delay(job, attempt, now)
            if delay is None:
                return
            await asyncio.sleep(delay)

    def _request(self, job: _Job) -> TrackRequest[_Pending] | None:
        """The request of ``job``'s events as they are now (``None`` when the consent table withholds them all):
        rebuilt when ``forget`` or the consent table took events out since the last one."""
        if self._withhold is not None:
            self._withhold_withdrawn(job)
        if not job.entries:
            return None
        if job.request is None or len(job.request.entries) != len(job.entries):
            job.request = self._encoder.build(job.destination, job.entries, [entry.payload for entry in job.entries])
        return job.request

    def _withhold_withdrawn(self, job: _Job) -> None:
        """Take the events the consent table withholds now out of ``job``, resolved ``WithheldAtSend``."""
        assert self._withhold is not None
        kept: list[_Pending] = []
        taken: list[_Pending] = []
        for entry in job.entries:
            reason = None if entry.subject is None else self._withhold(entry.subject)
            if reason is None:
                kept.append(entry)
                continue
            taken.append(entry)
            if not entry.future.done():
                entry.future.set_result(WithheldAtSend(entry.ref, reason))
        if taken:
            self._release(taken)
            job.entries = kept

    async def _attempt(self, job: _Job) -> _Attempt | None:
        """Send once (or not at all, without a token) and classify what came back; ``None`` when the consent table
        withholds every event of ``job``."""
        destination = job.destination
        token = self._tokens.token_for(destination.event_source_id)
        if token is None:
            # nothing is sent, but withdrawn events settle rather than wait for a token with the others
            if self._request(job) is None:
                return None
            return _Attempt(TOKEN_MISSING, None, "no access token configured for this event source", sent=False)
        async with self._limits:
            # Asked again once the slot and the rate limiter's token are ours: the wait can be long (an outage
            # fills every slot with hanging requests), and a withdrawal that arrived meanwhile must hold.
            request = self._request(job)
            if request is None:
                return None
            events = len(request.entries)
            SENT.labels(event_source=destination.event_source.value).inc(events)
            BATCH_EVENTS.observe(events)
            IN_FLIGHT_REQUESTS.inc()
            started = time.perf_counter()
            try:
                response = await self._client.track(request.body, token)
            except TransportError as error:
                return _Attempt(classify_transport_error(error.kind), None, str(error))
            finally:
                IN_FLIGHT_REQUESTS.dec()
                REQUEST_SECONDS.observe(time.perf_counter() - started)
        code = "none" if response.code is None else str(response.code)
        TIKTOK_RESPONSES.labels(http_status=str(response.http_status), code=code).inc()
        verdict = classify_response(response.http_status, response.code)
        if verdict.alert:
            UNHASHED_PII_REJECTIONS.inc()
        return _Attempt(verdict, response, _describe(response))

    # -- decisions -----------------------------------------------------------------------------------------------

    def _retry_delay(self, job: _Job, attempt: _Attempt, now: float) -> float | None:
        """The backoff before the next try, or None after dead-lettering the job when the budget is used up."""
        job.failures += 1
        if job.retry_since_s is None:
            job.retry_since_s = now
        if self._budget.exhausted(job.failures, job.retry_since_s, now):
            elapsed = now - job.retry_since_s
            error = RetryBudgetExhaustedError(
                f"gave up after {job.failures} transient failures in {elapsed:.1f}s; last: {attempt.detail}"
            )
            log.warning(
                "tiktok_retry_budget_exhausted",
                event_source_id=job.destination.event_source_id,
                events=len(job.entries),
                failures=job.failures,
                elapsed_s=round(elapsed, 3),
                cause=attempt.verdict.reason,
            )
            self._dead_letter(job, error, now)
            return None
        RETRIED.labels(cause=attempt.verdict.reason).inc()
        retry_after = parse_retry_after(attempt.response.retry_after, now) if attempt.response else None
        delay = self._backoff.delay(
            job.failures, self._rand(), throttled=attempt.verdict.throttled, retry_after=retry_after
        )
        remaining = self._budget.remaining_s(job.retry_since_s, now)
        return delay if remaining is None else min(delay, remaining)

    def _isolate(self, job: _Job, attempt: _Attempt) -> None:
        """Split a rejected batch into two new jobs, or reject the single event that remains."""
        if not can_isolate(job.entries):
            self._reject(job, attempt)
            return
        BATCH_SPLITS.inc()
        for half in split_in_half(job.entries):
            self._spawn(job.half(half))

    def _reject(self, job: _Job, attempt: _Attempt) -> None:
        response = attempt.response
        log.warning(
            "tiktok_events_rejected",
            event_source_id=job.destination.event_source_id,
            events=len(job.entries),
            reason=attempt.verdict.reason,
            detail=attempt.detail,
            request_id=response.request_id if response else None,
        )
        self._dead_letter(job, TikTokRejectionError(f"TikTok rejected the request: {attempt.detail}"), self._clock())

    def _hold(self, job: _Job, attempt: _Attempt) -> None:
        """Hold a job on a configuration fault: not ready, one warning per interval, the retry budget restarts."""
        job.failures, job.retry_since_s = 0, None
        self._holds.setdefault(job.destination, self._clock())
        AUTH_FAULT.set(1)
        now = time.monotonic()
        if now - self._last_auth_log_s >= self._settings.auth_fault_log_interval_s:
            self._last_auth_log_s = now
            log.warning(
                "tiktok_auth_fault_holding",
                event_source=job.destination.event_source.value,
                event_source_id=job.destination.event_source_id,
                reason=attempt.verdict.reason,
                detail=attempt.detail,
                request_id=attempt.response.request_id if attempt.response else None,
                held_destinations=len(self._holds),
                pending_events=self.pending,
            )

    def _release_hold(self, destination: Destination) -> None:
        if self._holds and self._holds.pop(destination, None) is not None:
            self._dead_lettering.discard(destination)
            log.info("tiktok_auth_fault_cleared", event_source_id=destination.event_source_id)
            self._set_holds_metric()

    def _destination_fault_action(self, destination: Destination) -> FaultAction:
        """What the destination-fault policy says about a held ``destination`` now."""
        others = [at for held, at in self._last_delivery_s.items() if held != destination]
        return self._destination_faults.decide(
            failing_since_s=self._holds[destination],
            last_other_delivery_s=max(others, default=None),
            now_s=self._clock(),
        )

    def _give_up_destination(self, job: _Job, attempt: _Attempt) -> None:
        """Dead-letter a job of a destination refused for too long while others are delivered (logged once per
        episode: every later job of the destination follows it until a delivery clears the hold)."""
        now = self._clock()
        since = self._holds[job.destination]
        if job.destination not in self._dead_lettering:
            self._dead_lettering.add(job.destination)
            log.warning(
                "tiktok_destination_dead_lettering",
                event_source=job.destination.event_source.value,
                event_source_id=job.destination.event_source_id,
                reason=attempt.verdict.reason,
                held_s=round(now - since, 3),
            )
        job.first_failure_s = since if job.first_failure_s is None else min(since, job.first_failure_s)
        job.last = attempt.response
        error = DestinationFaultError(
            f"destination {job.destination.event_source_id} refused for {now - since:.0f}s while other destinations "
            f"were delivered; last: {attempt.detail}"
        )
        self._dead_letter(job, error, now)

    def _set_holds_metric(self) -> None:
        AUTH_FAULT.set(1 if self._holds else 0)

    # -- settling ------------------------------------------------------------------------------------------------

    def _settle_delivered(self, job: _Job, response: TrackResponse | None) -> None:
        code = response.code if response is not None and response.code is not None else 0
        request_id = response.request_id if response is not None else None
        for entry in job.entries:
            if not entry.future.done():
                entry.future.set_result(Delivered(entry.ref, code, request_id))
        self._release(job.entries)

    def _dead_letter(self, job: _Job, error: SendError, now: float) -> None:
        by_route: dict[str, Failure] = {}
        for entry in job.entries:
            failure = by_route.get(entry.route)
            if failure is None:
                failure = by_route[entry.route] = self._failure(error, now, entry.route, job)
            if not entry.future.done():
                entry.future.set_result(DeadLettered(entry.ref, failure))
        self._release(job.entries)

    def _release(self, entries: Iterable[_Pending]) -> None:
        """Stop counting ``entries`` as retained (their outcome is known, or they were given up)."""
        retained = self._retained
        for entry in entries:
            key = (entry.ref.topic, entry.ref.partition)
            retained[key] -= 1
            if not retained[key]:
                del retained[key]

    def _failure(self, error: SendError, now: float, route: str, job: _Job | None = None) -> Failure:
        """The dead-letter context of ``error``; TikTok's message is masked, like every text that may hold PII."""
        response = job.last if job is not None else None
        first = job.first_failure_s if job is not None and job.first_failure_s is not None else now
        return Failure(
            stage=error.stage,
            reason=error.reason,
            exception_class=type(error).__name__,
            message=mask_text(str(error)),
            attempts=job.attempts if job is not None else 1,
            first_failure_ms=int(first * 1000),
            last_failure_ms=int(now * 1000),
            http_status=response.http_status if response else None,
            tiktok_code=response.code if response else None,
            tiktok_message=mask_text(response.message) if response and response.message else None,
            request_id=response.request_id if response else None,
            route=route,
        )

    def _cancel(self, job: _Job) -> None:
        for entry in job.entries:
            entry.future.cancel()
        self._release(job.entries)

    def _settle_with_exception(self, job: _Job, error: Exception) -> None:
        for entry in job.entries:
            if not entry.future.done():
                entry.future.set_exception(error)
        self._release(job.entries)


def _describe(response: TrackResponse) -> str:
    """``HTTP 200, code 40002: Invalid value for ...``, with PII-shaped text masked."""
    text = f"HTTP {response.http_status}"
    if response.code is not None:
        text += f", code {response.code}"
    if response.message:
        text += f": {mask_text(response.message)}"
    return text
