"""Fault injection: decides, per request, whether the sandbox answers with a fault instead of doing its job."""

from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from consumer.sandbox.settings import FaultSettings

PASS_THROUGH_CODES = frozenset({0, 20001})


@dataclass(frozen=True, slots=True)
class Injection:
    """A forced answer. HTTP 200 with code 0 or 20001 lets the request be processed, then answers that code."""

    http_status: int = 200
    code: int | None = None
    message: str | None = None
    hang: bool = False
    retry_after: str | None = None

    @property
    def passes_through(self) -> bool:
        return self.http_status == 200 and not self.hang and (self.code is None or self.code in PASS_THROUGH_CODES)


class FaultInjector:
    """The current ``FaultSettings`` and their state (the script's position, when the outages started)."""

    def __init__(self, faults: FaultSettings, rng: random.Random, clock: Callable[[], float] = time.monotonic) -> None:
        self._rng = rng
        self._clock = clock
        self.apply(faults)

    @property
    def settings(self) -> FaultSettings:
        return self._faults

    @property
    def rejected_event_ids(self) -> frozenset[str]:
        return self._rejected

    def apply(self, faults: FaultSettings) -> None:
        """Replace the faults; the script restarts and outage windows count from now."""
        self._faults = faults
        self._applied_at = self._clock()
        self._script = deque(Injection(s.http_status, s.code, s.message, s.hang, s.retry_after) for s in faults.script)
        self._rejected = frozenset(faults.reject_event_ids)
        self._idle = not (
            faults.script or faults.outages or faults.timeout_rate or faults.http_error_rate or faults.error_rate
        )

    def latency_s(self) -> float:
        """The simulated round trip for one request."""
        faults = self._faults
        jitter = faults.latency_jitter_ms * self._rng.random() if faults.latency_jitter_ms else 0.0
        return (faults.latency_ms + jitter) / 1000

    def pick(self) -> Injection | None:
        """The fault for the next request, or None to process it normally."""
        if self._idle:
            return None
        if self._script:
            return self._script.popleft()
        return self._outage() or self._random_fault()

    def _outage(self) -> Injection | None:
        elapsed = self._clock() - self._applied_at
        for outage in self._faults.outages:
            if outage.start_s <= elapsed < outage.start_s + outage.duration_s:
                if outage.code is not None:
                    return Injection(code=outage.code)
                return Injection(http_status=outage.http_status)
        return None

    def _random_fault(self) -> Injection | None:
        faults, rng = self._faults, self._rng
        if faults.timeout_rate and rng.random() < faults.timeout_rate:
            return Injection(hang=True)
        if faults.http_error_rate and rng.random() < faults.http_error_rate:
            return Injection(http_status=faults.http_error_status)
        if faults.error_rate and rng.random() < faults.error_rate:
            return Injection(code=faults.error_code)
        return None
