"""Conversions of decoded record values to what TikTok accepts: Unix seconds, JSON numbers, id strings.

Decoded Avro gives ``Decimal`` for decimals and aware ``datetime`` for timestamps; JSON input (``tiktok-relay map``)
gives numbers and ISO 8601 text. Each function accepts both, and raises ``ValueError`` (never quoting the value,
which may be PII) for anything else.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from consumer.times import datetime_ms

_UNIT_MS: Final = {"ms": 1, "s": 1000}


def _decimal(value: object) -> Decimal:
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("a boolean is not a number")
    if isinstance(value, int | float):
        return Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation:
            raise ValueError("text that is not a number") from None
    raise ValueError(f"a {type(value).__name__} is not a number")


def to_number(value: object) -> int | float:
    """A JSON number: integral values as ``int``, others as ``float`` (``Decimal('59.90')`` -> ``59.9``)."""
    if type(value) is int:
        return value
    if type(value) is float and math.isfinite(value):
        return value
    number = _decimal(value)
    if not number.is_finite():
        raise ValueError("not a finite number")
    return int(number) if number == number.to_integral_value() else float(number)


def to_int(value: object) -> int:
    """A whole number (a quantity); a fractional value is an error."""
    number = to_number(value)
    if isinstance(number, float):
        raise ValueError("not a whole number")
    return number


def to_id(value: object) -> str:
    """An id as TikTok wants it: a JSON string, never a number (``123`` -> ``"123"``)."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise ValueError(f"a {type(value).__name__} is not an id")
    number = to_number(value)
    if isinstance(number, float):
        raise ValueError("a fractional number is not an id")
    return str(number)


def timestamp_ms(value: object, unit: str) -> int:
    """Unix milliseconds from an aware ``datetime`` (naive counts as UTC), ISO 8601 text, or a number (or digits)
    in ``unit``."""
    if isinstance(value, datetime):
        return datetime_ms(value)
    if isinstance(value, str) and not value.strip().isdigit():  # digits alone are a number, not ISO basic format
        try:
            return timestamp_ms(datetime.fromisoformat(value.strip()), unit)
        except ValueError:
            pass  # perhaps a number with a fraction; to_number decides
    return int(to_number(value) * _UNIT_MS[unit])


def to_json(value: Any) -> Any:
    """A JSON-safe copy of a custom property: decimals as numbers, timestamps as ISO 8601, maps and arrays
    recursively; bytes are rejected (no meaning TikTok could use)."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return to_number(value)
    if isinstance(value, Decimal):
        return to_number(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(key): to_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(item) for item in value]
    raise ValueError(f"a {type(value).__name__} cannot be sent as a property")
