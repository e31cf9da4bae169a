"""The report's time window, from command-line text: an ISO 8601 time, Unix milliseconds or a duration before now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from consumer.times import datetime_ms, ms_datetime, parse_time_ms


class WindowError(ValueError):
    """The window's text cannot be read, or it ends before it starts."""


@dataclass(frozen=True, slots=True)
class Window:
    """A half-open time window [start_ms, end_ms) of message timestamps, in Unix milliseconds."""

    start_ms: int
    end_ms: int

    @classmethod
    def parse(cls, since: str, until: str | None, now: datetime) -> Window:
        """The window from ``since`` to ``until`` (now when None); each an ISO time or a duration ago."""
        start = parse_time(since, now)
        end = parse_time(until, now) if until else now
        if end <= start:
            raise WindowError(f"the window ends ({end.isoformat()}) before it starts ({start.isoformat()})")
        return cls(datetime_ms(start), datetime_ms(end))

    def describe(self) -> str:
        """``2025-01-01 00:00 UTC to 2025-01-02 00:00 UTC``."""
        start, end = (ms_datetime(ms) for ms in (self.start_ms, self.end_ms))
        return f"{start:%Y-%m-%d %H:%M:%S} UTC to {end:%Y-%m-%d %H:%M:%S} UTC"


def parse_time(text: str, now: datetime) -> datetime:
    """A duration before ``now`` (``90m``, ``24h``, ``7d``, ``2w``), an ISO 8601 time (UTC unless it says) or Unix
    milliseconds (``consumer.times``)."""
    try:
        ms = parse_time_ms(text, datetime_ms(now))
    except ValueError:
        raise WindowError(f"{text!r} is neither an ISO 8601 time nor a duration like 24h, 90m or 7d") from None
    return ms_datetime(ms)
