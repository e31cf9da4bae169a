"""Retry timing: exponential backoff with full jitter, the retry budget, and Retry-After parsing."""

from __future__ import annotations

import pytest

from consumer.sending.retry import Backoff, RetryBudget, parse_retry_after
from consumer.sending.settings import TikTokSettings

BACKOFF = Backoff(base_s=0.2, max_s=30.0, throttle_factor=4.0)


@pytest.mark.parametrize(("failures", "ceiling"), [(1, 0.2), (2, 0.4), (3, 0.8), (8, 25.6), (9, 30.0), (500, 30.0)])
def test_ceiling_doubles_up_to_the_cap(failures: int, ceiling: float) -> None:
    """The jitter window doubles per consecutive failure and stops at max_s."""
    assert BACKOFF.ceiling(failures) == pytest.approx(ceiling)


def test_full_jitter_spans_zero_to_the_ceiling() -> None:
    """The delay is the uniform draw scaled to the whole window: 0 at the bottom, the ceiling at the top."""
    assert BACKOFF.delay(3, 0.0) == 0.0
    assert BACKOFF.delay(3, 0.5) == pytest.approx(0.4)
    assert BACKOFF.delay(3, 0.999999) == pytest.approx(0.8, rel=1e-5)


def test_throttled_retries_wait_longer() -> None:
    """After a per-pixel or per-advertiser QPS limit the window is throttle_factor times wider."""
    assert BACKOFF.delay(2, 0.5, throttled=True) == pytest.approx(4 * BACKOFF.delay(2, 0.5))


def test_retry_after_is_a_floor() -> None:
    """A Retry-After header is honoured: the delay is never shorter than it."""
    assert BACKOFF.delay(1, 0.5, retry_after=7.0) == 7.0


def test_jitter_longer_than_retry_after_wins() -> None:
    """A Retry-After shorter than the drawn delay does not shorten it."""
    assert BACKOFF.delay(9, 0.5, retry_after=1.0) == pytest.approx(15.0)


def test_backoff_reads_its_settings() -> None:
    """retry_base_ms is in milliseconds; the cap and factor are taken as they are."""
    settings = TikTokSettings(retry_base_ms=100, retry_max_backoff_s=5, throttle_backoff_factor=2)
    assert Backoff.from_settings(settings) == Backoff(0.1, 5.0, 2.0)


def test_budget_by_attempts() -> None:
    """With max_attempts=3, the third transient failure exhausts the budget."""
    budget = RetryBudget(max_attempts=3, max_elapsed_s=None)
    assert not budget.exhausted(2, 0.0, 1e9)
    assert budget.exhausted(3, 0.0, 0.0)


def test_budget_by_time() -> None:
    """The time budget counts from the first transient failure of the run."""
    budget = RetryBudget(max_attempts=None, max_elapsed_s=60.0)
    assert not budget.exhausted(1000, 100.0, 159.9)
    assert budget.exhausted(2, 100.0, 160.0)


def test_budget_without_limits_never_ends() -> None:
    """Both limits disabled: retries go on (the consumer's back-pressure stalls intake meanwhile)."""
    assert not RetryBudget(None, None).exhausted(10**6, 0.0, 1e12)


def test_default_budget_is_time_bound() -> None:
    """By default transient failures are retried for an hour, however many attempts that takes."""
    assert RetryBudget.from_settings(TikTokSettings()) == RetryBudget(None, 3600.0)


@pytest.mark.parametrize(("header", "seconds"), [("120", 120.0), (" 5 ", 5.0), ("0", 0.0)])
def test_retry_after_delta_seconds(header: str, seconds: float) -> None:
    """The delta-seconds form is read as seconds."""
    assert parse_retry_after(header, 0.0) == seconds


def test_retry_after_http_date() -> None:
    """The HTTP-date form is the time left until that date."""
    assert parse_retry_after("Thu, 01 Jan 1970 00:01:40 GMT", 40.0) == 60.0


def test_retry_after_in_the_past_means_now() -> None:
    """A date already passed asks for no wait."""
    assert parse_retry_after("Thu, 01 Jan 1970 00:00:10 GMT", 40.0) == 0.0


def test_retry_after_is_capped_by_the_maximum_backoff() -> None:
    """A proxy asking for a day (or for ever) waits no longer than the maximum backoff."""
    assert BACKOFF.delay(1, 0.5, retry_after=86_400.0) == 30.0
    assert BACKOFF.delay(1, 0.5, retry_after=float("inf")) == 30.0


@pytest.mark.parametrize(
    "header",
    [
        "9" * 5000,  # more digits than int() converts by default
        "99999999999999999999999999999999999999",
        "Fri, 31 Dec 9999 23:59:59 GMT",
    ],
)
def test_huge_retry_after_waits_the_maximum_backoff(header: str) -> None:
    """Huge delta-seconds or a far-future date parse without error, and the wait stays capped."""
    seconds = parse_retry_after(header, 0.0)
    assert seconds is not None
    assert BACKOFF.delay(1, 0.0, retry_after=seconds) == 30.0


def test_remaining_budget_time() -> None:
    """The time budget left bounds any wait (a wait past it would only end in the dead-letter topic anyway)."""
    assert RetryBudget(None, 60.0).remaining_s(0.0, 50.0) == 10.0
    assert RetryBudget(None, 60.0).remaining_s(0.0, 70.0) == 0.0
    assert RetryBudget(5, None).remaining_s(0.0, 1e9) is None


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "soon",
        "-5",
        "1.5",
        "\uff11\uff12",  # fullwidth digits
        "\u0663",  # Arabic-Indic three
        "\u00b2",  # superscript two
        "1e9",
        "0x10",
        "+5",
        "5 5",
        "5\x00",
        "inf",
        "NaN",
    ],
)
def test_unreadable_retry_after_is_ignored(header: str | None) -> None:
    """Absent or malformed headers leave the backoff alone."""
    assert parse_retry_after(header, 0.0) is None
