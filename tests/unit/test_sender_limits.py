"""Request limits: the token bucket's reservations and the in-flight bound."""

from __future__ import annotations

import asyncio

import pytest

from consumer.sending.limits import RequestLimits, TokenBucket


def test_burst_passes_without_waiting() -> None:
    """A full bucket lets `burst` requests through back to back."""
    bucket = TokenBucket(rate=10.0, burst=3, now=0.0)
    assert [bucket.reserve(0.0) for _ in range(3)] == [0.0, 0.0, 0.0]


def test_reservations_beyond_the_burst_queue_at_the_rate() -> None:
    """Once empty, each further request waits one more 1/rate than the one before."""
    bucket = TokenBucket(rate=10.0, burst=1, now=0.0)
    waits = [bucket.reserve(0.0) for _ in range(4)]
    assert waits == pytest.approx([0.0, 0.1, 0.2, 0.3])


def test_bucket_refills_with_time_up_to_the_burst() -> None:
    """Idle time refills tokens, but never beyond the burst size."""
    bucket = TokenBucket(rate=10.0, burst=2, now=0.0)
    bucket.reserve(0.0)
    bucket.reserve(0.0)
    assert [bucket.reserve(100.0) for _ in range(3)] == pytest.approx([0.0, 0.0, 0.1])


async def test_in_flight_bound_is_enforced() -> None:
    """No more than max_in_flight requests hold a slot at once."""
    limits = RequestLimits(max_in_flight=2, rate=1000.0, burst=100)
    active = peak = 0

    async def request() -> None:
        nonlocal active, peak
        async with limits:
            active += 1
            peak = max(peak, active)
            await asyncio.sleep(0.01)
            active -= 1

    await asyncio.gather(*(request() for _ in range(8)))
    assert peak == 2


async def test_cancelled_wait_releases_the_slot() -> None:
    """A request cancelled while waiting for the rate limiter gives its in-flight slot back."""
    limits = RequestLimits(max_in_flight=1, rate=0.5, burst=1)
    async with limits:
        pass
    waiting = asyncio.create_task(limits.__aenter__())
    await asyncio.sleep(0.01)
    waiting.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiting
    assert not limits._semaphore.locked()
