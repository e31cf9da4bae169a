"""Configuration-fault holds: which destinations TikTok refuses (token, permission) and since when.

A held destination makes the sender not ready; a warning is logged once per ``auth_fault_log_interval_s``. A
delivery or a content verdict (the token and permission passed) clears the hold. The destination-fault policy
(``consumer.sending.destinations``) decides when a held destination's jobs stop holding and are dead-lettered.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import structlog

from consumer.model import Destination
from consumer.observability.metrics import AUTH_FAULT
from consumer.sending.destinations import DestinationFaultPolicy, FaultAction
from consumer.sending.errors import DestinationFaultError
from consumer.sending.job import Attempt, Job
from consumer.sending.settings import TikTokSettings

log = structlog.get_logger(__name__)


class Holds:
    """Held destinations, the last delivery per destination, and the once-per-episode dead-lettering log."""

    __slots__ = ("_clock", "_dead_lettering", "_held", "_last_delivery_s", "_last_log_s", "_log_interval_s", "_policy")

    def __init__(self, settings: TikTokSettings, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._policy = DestinationFaultPolicy.from_settings(settings)
        self._log_interval_s = settings.auth_fault_log_interval_s
        self._held: dict[Destination, float] = {}  # held destination -> since when (clock seconds)
        self._dead_lettering: set[Destination] = set()  # held destinations whose jobs the policy dead-letters
        self._last_delivery_s: dict[Destination, float] = {}  # one entry per destination: routes bound them
        self._last_log_s = float("-inf")

    @property
    def any(self) -> bool:
        """Whether a configuration fault holds a destination."""
        return bool(self._held)

    def hold(self, job: Job, attempt: Attempt, pending_events: int) -> None:
        """Hold a job on a configuration fault: not ready, one warning per interval, the retry budget restarts."""
        job.failures, job.retry_since_s = 0, None
        self._held.setdefault(job.destination, self._clock())
        AUTH_FAULT.set(1)
        now = time.monotonic()
        if now - self._last_log_s >= self._log_interval_s:
            self._last_log_s = now
            log.warning(
                "tiktok_auth_fault_holding",
                event_source=job.destination.event_source.value,
                event_source_id=job.destination.event_source_id,
                reason=attempt.verdict.reason,
                detail=attempt.detail,
                request_id=attempt.response.request_id if attempt.response else None,
                held_destinations=len(self._held),
                pending_events=pending_events,
            )

    def delivered(self, destination: Destination) -> None:
        """A request to ``destination`` was delivered: its hold (if any) clears."""
        self.release(destination)
        self._last_delivery_s[destination] = self._clock()

    def release(self, destination: Destination) -> None:
        """The token and permission of ``destination`` passed: its hold (if any) clears."""
        if self._held and self._held.pop(destination, None) is not None:
            self._dead_lettering.discard(destination)
            log.info("tiktok_auth_fault_cleared", event_source_id=destination.event_source_id)
            self._set_metric()

    def action(self, destination: Destination) -> FaultAction:
        """What the destination-fault policy says about a held ``destination`` now."""
        others = [at for held, at in self._last_delivery_s.items() if held != destination]
        return self._policy.decide(
            failing_since_s=self._held[destination],
            last_other_delivery_s=max(others, default=None),
            now_s=self._clock(),
        )

    def give_up(self, job: Job, attempt: Attempt, now: float) -> DestinationFaultError:
        """The error that dead-letters a job of a destination refused for too long while others are delivered
        (logged once per episode: every later job of the destination follows it until a delivery clears the hold);
        the job's failure history starts when the hold did."""
        since = self._held[job.destination]
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
        return DestinationFaultError(
            f"destination {job.destination.event_source_id} refused for {now - since:.0f}s while other destinations "
            f"were delivered; last: {attempt.detail}"
        )

    def clear(self) -> None:
        """Forget every hold (the sender closed)."""
        self._held.clear()
        self._dead_lettering.clear()
        self._set_metric()

    def _set_metric(self) -> None:
        AUTH_FAULT.set(1 if self._held else 0)
