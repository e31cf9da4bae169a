"""Times as text, in Unix milliseconds: the one reader of the times operators type (``dlq``, ``map --now``,
``report --since``) and the writer and reader of the times dead-letter headers carry. Pure."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

_AGO = re.compile(r"(\d+)([smhdw])")
_UNIT_MS = {"s": 1_000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_ONE_MS = timedelta(milliseconds=1)


def parse_time_ms(text: str, now_ms: int | None = None) -> int:
    """Unix milliseconds from ISO 8601 (no zone means UTC) or Unix milliseconds (digits alone) and, given
    ``now_ms``, from a time ago (``30s``, ``90m``, ``6h``, ``2d``, ``2w``); ``ValueError`` otherwise."""
    text = text.strip()
    if text.isascii() and text.isdigit():
        return int(text)
    if now_ms is not None and (ago := _AGO.fullmatch(text)):
        return now_ms - int(ago.group(1)) * _UNIT_MS[ago.group(2)]
    return datetime_ms(datetime.fromisoformat(text))


def datetime_ms(moment: datetime) -> int:
    """Unix milliseconds of ``moment`` (naive means UTC), exactly: no float on the way."""
    return ((moment if moment.tzinfo else moment.replace(tzinfo=UTC)) - _EPOCH) // _ONE_MS


def ms_datetime(ms: int) -> datetime:
    """The UTC ``datetime`` of Unix milliseconds ``ms``."""
    return _EPOCH + ms * _ONE_MS


def format_time_ms(ms: int) -> str:
    """Unix milliseconds as ISO 8601 UTC with milliseconds, e.g. ``2025-05-01T12:00:00.250Z``."""
    return ms_datetime(ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")
