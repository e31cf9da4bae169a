"""The event time window: TikTok attributes events only within a few days of when they happened."""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from consumer.policy.errors import EventInFutureError, EventTooOldError
from consumer.policy.settings import PolicySettings

_ONE_MS: Final = timedelta(milliseconds=1)


def _duration(ms: int) -> str:
    return str(timedelta(seconds=ms // 1000))


class EventWindow:
    """Accepts event times in ``[now - policy.max_event_age, now + policy.max_future_skew]``."""

    def __init__(self, policy: PolicySettings) -> None:
        self._max_age_ms = policy.max_event_age // _ONE_MS
        self._max_skew_ms = policy.max_future_skew // _ONE_MS

    def check(self, event_ms: int, now_ms: int) -> None:
        """Raise ``EventTooOldError`` or ``EventInFutureError`` when ``event_ms`` falls outside the window."""
        age_ms = now_ms - event_ms
        if age_ms > self._max_age_ms:
            raise EventTooOldError(
                f"event_time is {_duration(age_ms)} old, beyond policy.max_event_age ({_duration(self._max_age_ms)})"
            )
        if -age_ms > self._max_skew_ms:
            raise EventInFutureError(
                f"event_time is {_duration(-age_ms)} ahead of the clock, beyond policy.max_future_skew "
                f"({_duration(self._max_skew_ms)})"
            )
