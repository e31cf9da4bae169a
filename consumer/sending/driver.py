"""One request's life: drives a job (a batch's events) until each event's outcome is known.

Each turn sends the job once (``_attempt``) and acts on the verdict: deliver, hold on a configuration fault (or
dead-letter the job when the destination-fault policy says so), isolate a rejected batch by splitting it, reject,
or sleep a backoff with full jitter and try again until the retry budget is used up. Before every request, once it
holds its in-flight slot and its rate-limiter token, the consent table's ``withhold`` check takes out the events it
withholds now. The policy in full is in ``consumer.sending.sender``'s docstring.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from consumer.model import ConsentSubject
from consumer.observability.logging import mask_text
from consumer.observability.metrics import (
    BATCH_EVENTS,
    BATCH_SPLITS,
    IN_FLIGHT_REQUESTS,
    REQUEST_SECONDS,
    RETRIED,
    SENT,
    TIKTOK_RESPONSES,
    UNHASHED_PII_REJECTIONS,
)
from consumer.sending.body import RequestEncoder, TrackRequest
from consumer.sending.classify import TOKEN_MISSING, Decision, classify_response, classify_transport_error
from consumer.sending.client import TikTokClient, TrackResponse, TransportError
from consumer.sending.destinations import FaultAction
from consumer.sending.errors import RetryBudgetExhaustedError, TikTokRejectionError
from consumer.sending.holds import Holds
from consumer.sending.isolate import can_isolate, split_in_half
from consumer.sending.job import Attempt, Job, Pending
from consumer.sending.limits import RequestLimits
from consumer.sending.outcomes import Outcomes
from consumer.sending.retry import Backoff, RetryBudget, parse_retry_after
from consumer.sending.settings import TikTokSettings
from consumer.sending.tokens import TokenStore

log = structlog.get_logger(__name__)

Withhold = Callable[[ConsentSubject], str | None]
"""Asked just before a send: the reason to withhold an event about this subject now, or ``None``."""
Spawn = Callable[[Job], None]
"""Starts a job of its own (each half of a split batch)."""


class RequestDriver:
    """Runs jobs to their outcomes; shares the HTTP client, the limits, the holds and the outcome bookkeeping of
    one sender."""

    def __init__(
        self,
        settings: TikTokSettings,
        tokens: TokenStore,
        client: TikTokClient,
        *,
        outcomes: Outcomes,
        holds: Holds,
        spawn: Spawn,
        clock: Callable[[], float],
        rand: Callable[[], float],
        withhold: Withhold | None,
    ) -> None:
        self._settings = settings
        self._tokens = tokens
        self._client = client
        self._outcomes = outcomes
        self._holds = holds
        self._spawn = spawn
        self._clock = clock
        self._rand = rand
        self._withhold = withhold
        self._encoder = RequestEncoder(settings.test_event_code, settings.partner_name)
        self._limits = RequestLimits(settings.max_in_flight, settings.max_requests_per_second, settings.rate_burst)
        self._backoff = Backoff.from_settings(settings)
        self._budget = RetryBudget.from_settings(settings)

    async def run(self, job: Job) -> None:
        """Drive ``job`` to its outcomes; cancelled, its events are given up unsettled."""
        try:
            await self._drive(job)
        except asyncio.CancelledError:
            self._outcomes.give_up(job.entries)
            raise
        except Exception as error:  # a bug must not leave events hanging: their reports carry the error
            log.exception("sender_job_failed", events=len(job.entries))
            self._outcomes.fail(job, error)

    async def _drive(self, job: Job) -> None:
        while True:
            attempt = await self._attempt(job)
            if attempt is None:
                return  # the consent table withheld every event of the job
            if attempt.sent:
                job.attempts += 1
            decision = attempt.verdict.decision
            if decision is Decision.DELIVERED:
                self._holds.delivered(job.destination)
                self._outcomes.delivered(job, attempt.response)
                return
            if decision is Decision.AUTH_FAULT:
                self._holds.hold(job, attempt, self._outcomes.pending)
                if self._holds.action(job.destination) is FaultAction.DEAD_LETTER:
                    now = self._clock()
                    self._outcomes.dead_letter(job, self._holds.give_up(job, attempt, now), now)
                    return
                await self._wait(job, self._settings.auth_fault_retry_s * (0.5 + 0.5 * self._rand()))
                continue
            now = self._clock()
            job.first_failure_s = job.first_failure_s if job.first_failure_s is not None else now
            job.last = attempt.response
            if decision is Decision.ISOLATE:
                self._holds.release(job.destination)  # a content verdict: the token and permission passed
                self._isolate(job, attempt)
                return
            if decision is Decision.PERMANENT:
                self._reject(job, attempt)
                return
            delay = self._retry_delay(job, attempt, now)
            if delay is None:
                return
            await self._wait(job, delay)

    @staticmethod
    async def _wait(job: Job, delay_s: float) -> None:
        """Sleep before the next try without the encoded body: during an outage every unsettled event would
        otherwise be held twice (its payload, and the body of its waiting request); the next try joins it again."""
        job.request = None
        await asyncio.sleep(delay_s)

    def _request(self, job: Job) -> TrackRequest[Pending] | None:
        """The request of ``job``'s events as they are now (``None`` when the consent table withholds them all):
        rebuilt when ``forget`` or the consent table took events out since the last one."""
        if self._withhold is not None:
            self._withhold_withdrawn(job)
        if not job.entries:
            return None
        if job.request is None or len(job.request.entries) != len(job.entries):
            job.request = self._encoder.build(job.destination, job.entries, [entry.payload for entry in job.entries])
        return job.request

    def _withhold_withdrawn(self, job: Job) -> None:
        """Take the events the consent table withholds now out of ``job``, resolved ``WithheldAtSend``."""
        assert self._withhold is not None
        kept: list[Pending] = []
        for entry in job.entries:
            reason = None if entry.subject is None else self._withhold(entry.subject)
            if reason is None:
                kept.append(entry)
            else:
                self._outcomes.withheld(entry, reason)
        if len(kept) != len(job.entries):
            job.entries = kept

    async def _attempt(self, job: Job) -> Attempt | None:
        """Send once (or not at all, without a token) and classify what came back; ``None`` when the consent table
        withholds every event of ``job``."""
        destination = job.destination
        token = self._tokens.token_for(destination.event_source_id)
        if token is None:
            # nothing is sent, but withdrawn events settle rather than wait for a token with the others
            if self._request(job) is None:
                return None
            return Attempt(TOKEN_MISSING, None, "no access token configured for this event source", sent=False)
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
                return Attempt(classify_transport_error(error.kind), None, str(error))
            finally:
                IN_FLIGHT_REQUESTS.dec()
                REQUEST_SECONDS.observe(time.perf_counter() - started)
        code = "none" if response.code is None else str(response.code)
        TIKTOK_RESPONSES.labels(http_status=str(response.http_status), code=code).inc()
        verdict = classify_response(response.http_status, response.code)
        if verdict.alert:
            UNHASHED_PII_REJECTIONS.inc()
        return Attempt(verdict, response, _describe(response))

    def _retry_delay(self, job: Job, attempt: Attempt, now: float) -> float | None:
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
            self._outcomes.dead_letter(job, error, now)
            return None
        RETRIED.labels(cause=attempt.verdict.reason).inc()
        retry_after = parse_retry_after(attempt.response.retry_after, now) if attempt.response else None
        delay = self._backoff.delay(
            job.failures, self._rand(), throttled=attempt.verdict.throttled, retry_after=retry_after
        )
        remaining = self._budget.remaining_s(job.retry_since_s, now)
        return delay if remaining is None else min(delay, remaining)

    def _isolate(self, job: Job, attempt: Attempt) -> None:
        """Split a rejected batch into two new jobs, or reject the single event that remains."""
        if not can_isolate(job.entries):
            self._reject(job, attempt)
            return
        BATCH_SPLITS.inc()
        for half in split_in_half(job.entries):
            self._spawn(job.half(half))

    def _reject(self, job: Job, attempt: Attempt) -> None:
        response = attempt.response
        log.warning(
            "tiktok_events_rejected",
            event_source_id=job.destination.event_source_id,
            events=len(job.entries),
            reason=attempt.verdict.reason,
            detail=attempt.detail,
            request_id=response.request_id if response else None,
        )
        error = TikTokRejectionError(f"TikTok rejected the request: {attempt.detail}")
        self._outcomes.dead_letter(job, error, self._clock())


def _describe(response: TrackResponse) -> str:
    """``HTTP 200, code 40002: Invalid value for ...``, with PII-shaped text masked."""
    text = f"HTTP {response.http_status}"
    if response.code is not None:
        text += f", code {response.code}"
    if response.message:
        text += f": {mask_text(response.message)}"
    return text
