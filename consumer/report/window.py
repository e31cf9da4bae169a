"""The report's time window, from command-line text: an ISO 8601 time or a duration before now."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

_DURATION = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


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
        return cls(int(start.timestamp() * 1000), int(end.timestamp() * 1000))

    def describe(self) -> str:
        """``2025-01-01 00:00 UTC to 2025-01-02 00:00 UTC``."""
        start, end = (datetime.fromtimestamp(ms / 1000, UTC) for ms in (self.start_ms, self.end_ms))
        return f"{start:%Y-%m-%d %H:%M:%S} UTC to {end:%Y-%m-%d %H:%M:%S} UTC"


def parse_time(text: str, now: datetime) -> datetime:
    """A duration before ``now`` (``90m``, ``24h``, ``7d``, ``2w``) or an ISO 8601 time (UTC unless it says)."""
    value = text.strip()
    duration = _DURATION.fullmatch(value)
    if duration:
        amount, unit = duration.groups()
        return now - timedelta(**{_UNITS[unit]: int(amount)})
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise WindowError(f"{text!r} is neither an ISO 8601 time nor a duration like 24h, 90m or 7d") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
