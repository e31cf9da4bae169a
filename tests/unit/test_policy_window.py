"""The event time window: policy.max_event_age and policy.max_future_skew."""

from __future__ import annotations

from datetime import timedelta

import pytest

from consumer.model import Stage
from consumer.policy.errors import EventInFutureError, EventTooOldError
from consumer.policy.settings import PolicySettings
from consumer.policy.window import EventWindow

NOW = 1_736_944_200_000
DAY = 86_400_000
WINDOW = EventWindow(PolicySettings())


def test_event_inside_the_window_passes() -> None:
    """An event from a minute ago, or exactly 7 days ago, is accepted."""
    WINDOW.check(NOW - 60_000, NOW)
    WINDOW.check(NOW - 7 * DAY, NOW)


def test_event_older_than_max_age_is_rejected() -> None:
    """Older than 7 days (the default) is event_too_old, a permanent policy failure."""
    with pytest.raises(EventTooOldError) as caught:
        WINDOW.check(NOW - 7 * DAY - 1000, NOW)
    assert (caught.value.stage, caught.value.reason) == (Stage.POLICY, "event_too_old")


def test_event_beyond_future_skew_is_rejected() -> None:
    """More than 10 minutes (the default) ahead of the clock is event_in_future."""
    with pytest.raises(EventInFutureError) as caught:
        WINDOW.check(NOW + 11 * 60_000, NOW)
    assert (caught.value.stage, caught.value.reason) == (Stage.POLICY, "event_in_future")


def test_small_clock_skew_is_tolerated() -> None:
    """An event a few minutes in the future (producer clock ahead) passes."""
    WINDOW.check(NOW + 5 * 60_000, NOW)


def test_window_is_configurable() -> None:
    """A shorter max_event_age rejects what the default accepts."""
    window = EventWindow(PolicySettings(max_event_age=timedelta(days=1)))
    with pytest.raises(EventTooOldError):
        window.check(NOW - 2 * DAY, NOW)
