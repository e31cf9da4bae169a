"""Hypothesis strategies that build records of any Avro schema, in the shape the decoder returns them.

Records come out as plain Python exactly as ``consumer.decode`` produces them: ``dict`` for records and maps,
``str`` for enum symbols, ``Decimal`` for decimals (at the schema's scale), aware UTC ``datetime`` with millisecond
precision for ``timestamp-millis``, the branch's value for unions. Text is drawn both from arbitrary Unicode and from
a pool of values that steer the mapper into its branches (emails, phones, URLs with a click id, digests).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

FUZZ = settings(
    max_examples=int(os.environ.get("RELAY_FUZZ_EXAMPLES", "100")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
"""Bounded for CI; ``RELAY_FUZZ_EXAMPLES=5000 pytest tests/unit/test_fuzz_*.py`` fuzzes longer on demand."""

INT32 = 2**31 - 1
INT64 = 2**63 - 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

_INTERESTING_TEXT = [
    "",
    " ",
    "Jane.Doe@Example.com",
    " a@b.co ",
    "not-an-email",
    "+1 415-555-0132",
    "(415) 555-0132",
    "0044 20 7946 0958",
    "12",
    "https://shop.example.com/landing?ttclid=E.C.P.abc&x=1",
    "https://shop.example.com/?ttclid=",
    "http://[::1",
    "0" * 64,
    "A" * 64,
    "GRANTED",
    "main",
    "outlet",
    "USD",
    "usd",
    "XXX",
    "1e400",
    "NaN",
    "\x00",
    "é" * 3,
]


def text() -> st.SearchStrategy[str]:
    """Arbitrary Unicode, or one of the values that reach the mapper's special cases."""
    return st.one_of(st.text(max_size=40), st.sampled_from(_INTERESTING_TEXT))


def timestamps_ms() -> st.SearchStrategy[datetime]:
    """Aware UTC datetimes with millisecond precision, as ``timestamp-millis`` decodes."""
    return st.integers(min_value=-(10**12), max_value=10**13).map(lambda ms: EPOCH + timedelta(milliseconds=ms))


def decimals(precision: int, scale: int) -> st.SearchStrategy[Decimal]:
    """Decimals that fit ``decimal(precision, scale)``, at exactly that scale."""
    bound = 10 ** (precision - scale) - Decimal(1) / 10**scale
    return st.decimals(min_value=-bound, max_value=bound, places=scale, allow_nan=False, allow_infinity=False)


_PRIMITIVES: dict[str, st.SearchStrategy[Any]] = {
    "null": st.none(),
    "boolean": st.booleans(),
    "int": st.integers(-INT32 - 1, INT32),
    "long": st.integers(-INT64 - 1, INT64),
    "float": st.floats(width=32, allow_nan=False),
    "double": st.floats(allow_nan=False),
    "bytes": st.binary(max_size=16),
    "string": text(),
}


def values_of(schema: Any, named: dict[str, Any] | None = None) -> st.SearchStrategy[Any]:
    """Values of a fastavro-parsed schema; ``named`` collects named types as they are defined (in document order,
    as later references to them are by name)."""
    named = {} if named is None else named
    if isinstance(schema, list):
        return st.one_of([values_of(branch, named) for branch in schema])
    if isinstance(schema, str):
        return _PRIMITIVES[schema] if schema in _PRIMITIVES else st.deferred(lambda: named[schema])
    return _values_of_type(schema, named)


def _values_of_type(schema: dict[str, Any], named: dict[str, Any]) -> st.SearchStrategy[Any]:
    kind, logical = schema["type"], schema.get("logicalType")
    strategy: st.SearchStrategy[Any]
    if logical == "decimal":
        strategy = decimals(schema["precision"], schema.get("scale", 0))
    elif logical == "timestamp-millis":
        strategy = timestamps_ms()
    elif kind == "record":
        strategy = st.fixed_dictionaries({field["name"]: values_of(field["type"], named) for field in schema["fields"]})
    elif kind == "enum":
        strategy = st.sampled_from(schema["symbols"])
    elif kind == "array":
        strategy = st.lists(values_of(schema["items"], named), max_size=3)
    elif kind == "map":
        strategy = st.dictionaries(text(), values_of(schema["values"], named), max_size=3)
    else:
        strategy = values_of(kind, named)
    if kind in ("record", "enum"):
        named[schema["name"]] = strategy
    return strategy
