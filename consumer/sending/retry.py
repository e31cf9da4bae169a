"""Retry timing, pure: exponential backoff with full jitter, a retry budget, and ``Retry-After`` parsing.

Full jitter (a uniform draw between zero and the exponential ceiling) spreads the retries of many throttled
batches over the whole window instead of synchronising them into the next storm.
"""

from __future__ import annotations

from dataclasses import dataclass
from email.utils import parsedate_to_datetime

from consumer.backoff import exponential_backoff
from consumer.sending.settings import TikTokSettings


@dataclass(frozen=True, slots=True)
class Backoff:
    """Delay before a retry: ``rand * min(max_s, base_s * 2**(failures-1))``, times ``throttle_factor`` after a
    QPS limit; never shorter than a ``Retry-After`` the server sent, up to ``max_s`` (a proxy's header must not
    park a batch for a day)."""

    base_s: float
    max_s: float
    throttle_factor: float = 1.0

    @classmethod
    def from_settings(cls, settings: TikTokSettings) -> Backoff:
        return cls(settings.retry_base_ms / 1000, settings.retry_max_backoff_s, settings.throttle_backoff_factor)

    def ceiling(self, failures: int, *, throttled: bool = False) -> float:
        """The upper bound of the jittered delay after ``failures`` (>= 1) consecutive transient failures."""
        ceiling = exponential_backoff(failures, self.base_s, self.max_s)
        return ceiling * self.throttle_factor if throttled else ceiling

    def delay(self, failures: int, rand: float, *, throttled: bool = False, retry_after: float | None = None) -> float:
        """The delay to wait; ``rand`` is a uniform draw from [0, 1)."""
        jittered = rand * self.ceiling(failures, throttled=throttled)
        return jittered if retry_after is None else max(jittered, min(retry_after, self.max_s))


@dataclass(frozen=True, slots=True)
class RetryBudget:
    """How long a batch's transient failures are retried before its events become permanent failures.
    ``None`` disables a limit; both limits apply, whichever is reached first."""

    max_attempts: int | None
    max_elapsed_s: float | None

    @classmethod
    def from_settings(cls, settings: TikTokSettings) -> RetryBudget:
        return cls(settings.retry_max_attempts, settings.retry_max_elapsed_s)

    def exhausted(self, failures: int, first_failure_s: float, now_s: float) -> bool:
        """True when ``failures`` transient failures, the first at ``first_failure_s``, use the budget up."""
        if self.max_attempts is not None and failures >= self.max_attempts:
            return True
        return self.max_elapsed_s is not None and now_s - first_failure_s >= self.max_elapsed_s

    def remaining_s(self, first_failure_s: float, now_s: float) -> float | None:
        """The time budget left (None: no time limit); no wait needs to last longer."""
        if self.max_elapsed_s is None:
            return None
        return max(0.0, self.max_elapsed_s - (now_s - first_failure_s))


def parse_retry_after(value: str | None, now_s: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or an HTTP date); None if absent or invalid.

    Only ASCII digits are delta-seconds (``str.isdigit`` also accepts ``"١٢"`` and ``"²"``); the caller caps the
    result (``Backoff.delay``, ``RetryBudget.remaining_s``), since any proxy on the way may have written it."""
    if not value:
        return None
    text = value.strip()
    if text.isascii() and text.isdigit():
        return float(text)  # float() reads any number of digits (int() refuses over 4300); huge becomes inf
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now_s)
