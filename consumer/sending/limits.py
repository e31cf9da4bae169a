"""Request limits: a global request-rate cap (token bucket) and a bound on requests in flight (semaphore)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from types import TracebackType


class TokenBucket:
    """A token bucket that hands out reservations: each request takes a token now or, when the bucket is empty,
    one that refills later, and learns how long to wait for it. Reservations queue in arrival order, so waiters
    are served fairly without a polling loop. Pure: the caller passes the time."""

    __slots__ = ("_burst", "_rate", "_tokens", "_updated")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._tokens = float(burst)
        self._updated = now

    def reserve(self, now: float) -> float:
        """Take one token; return the seconds to wait before using it (0 when one was available)."""
        elapsed = max(0.0, now - self._updated)
        self._tokens = min(self._burst, self._tokens + elapsed * self._rate) - 1.0
        self._updated = now
        return 0.0 if self._tokens >= 0 else -self._tokens / self._rate


class RequestLimits:
    """``async with limits:`` around one HTTP request: waits for an in-flight slot, then for the rate limiter."""

    __slots__ = ("_bucket", "_clock", "_semaphore")

    def __init__(
        self, max_in_flight: int, rate: float, burst: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._semaphore = asyncio.Semaphore(max_in_flight)
        self._clock = clock
        self._bucket = TokenBucket(rate, burst, clock())

    async def __aenter__(self) -> None:
        await self._semaphore.acquire()
        wait = self._bucket.reserve(self._clock())
        if wait > 0:
            try:
                await asyncio.sleep(wait)
            except BaseException:
                self._semaphore.release()
                raise

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._semaphore.release()
