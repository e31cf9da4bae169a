"""The logical-type converters compiled once per schema node give exactly what fastavro's readers give.

``consumer.decode.logical`` converts the logical values under read paths with converters compiled once per schema
node (the hot path: fastavro's readers look the node's precision and scale up on every call). Each is compared
with the fastavro reader a converting read calls (``fastavro.read.LOGICAL_READERS``), on edge values (zero,
negative, the largest of a precision and beyond it, the calendar's ends and beyond them) and on generated ones:
the same value of the same type (a ``Decimal``'s sign, digits and exponent; a datetime's time zone), or the same
exception class.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, cast

import pytest
from fastavro import parse_schema
from fastavro.read import LOGICAL_READERS
from hypothesis import given
from hypothesis import strategies as st

from consumer.decode.logical import logical_converter

DECIMALS = [(12, 2), (1, 0), (1, 1), (9, 9), (18, 4), (38, 10), (76, 38)]
"""(precision, scale) pairs: the reference schemas' (12, 2), the smallest, all-fraction, and large ones."""
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MIN_MICROS = (datetime.min.replace(tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
MAX_MICROS = (datetime.max.replace(tzinfo=UTC) - EPOCH) // timedelta(microseconds=1)
MIN_DAYS = date.min.toordinal() - date(1970, 1, 1).toordinal()
MAX_DAYS = date.max.toordinal() - date(1970, 1, 1).toordinal()


def node(kind: str, logical: str, **extra: Any) -> dict[str, Any]:
    """A parsed schema node of a logical type, as a converting read passes it to fastavro's reader."""
    return cast(dict[str, Any], parse_schema({"type": kind, "logicalType": logical, **extra}))


def decimal_node(precision: int, scale: int, size: int | None = None) -> dict[str, Any]:
    if size is None:
        return node("bytes", "decimal", precision=precision, scale=scale)
    return node("fixed", "decimal", name=f"Fixed{size}", size=size, precision=precision, scale=scale)


def outcome(convert: Callable[[Any], Any], raw: Any) -> tuple[Any, ...]:
    """What converting ``raw`` gives, compared in full: the value's type and what tells equal values apart (a
    decimal's sign, digits and exponent; a datetime's time zone object), or the exception's class."""
    try:
        value = convert(raw)
    except Exception as error:  # noqa: BLE001 - the class of any failure is what must agree
        return ("raised", type(error))
    if isinstance(value, Decimal):
        return (type(value), value.as_tuple())
    if isinstance(value, datetime):
        return (type(value), value, value.tzinfo)
    return (type(value), value)


def assert_agrees(schema: dict[str, Any], values: Iterable[Any]) -> None:
    reader = LOGICAL_READERS[f"{schema['type']}-{schema['logicalType']}"]
    convert = logical_converter(schema)
    assert convert is not None
    for value in values:
        assert outcome(convert, value) == outcome(lambda raw: reader(raw, schema, None), value), (schema, value)


def unscaled_bytes(unscaled: int, size: int | None = None) -> bytes:
    """Big-endian two's complement, as Avro writes a decimal: shortest for bytes, ``size`` long for fixed."""
    length = size if size is not None else (unscaled + (unscaled < 0)).bit_length() // 8 + 1
    return unscaled.to_bytes(length, "big", signed=True)


def decimal_edges(precision: int) -> list[int]:
    largest = 10**precision - 1
    return [0, 1, -1, 5, -5, largest, -largest, largest + 1, -(largest + 1), 10 ** (precision + 3) + 5, 2**70, -(2**70)]


@pytest.mark.parametrize(("precision", "scale"), DECIMALS)
def test_bytes_decimals_agree_on_edge_values(precision: int, scale: int) -> None:
    """Zero, one, the largest unscaled value of the precision and beyond it (rounded to the precision), negatives,
    and the empty byte string."""
    assert_agrees(decimal_node(precision, scale), [b"", *(unscaled_bytes(n) for n in decimal_edges(precision))])


@pytest.mark.parametrize(("precision", "scale", "size"), [(18, 4, 8), (9, 2, 4), (38, 10, 16), (2, 1, 1)])
def test_fixed_decimals_agree_on_edge_values(precision: int, scale: int, size: int) -> None:
    """A fixed's every byte is read; its edges include the values beyond the precision that fit its size."""
    bound = 2 ** (8 * size - 1)
    edges = [n for n in decimal_edges(precision) if -bound <= n < bound] + [bound - 1, -bound]
    assert_agrees(decimal_node(precision, scale, size), [unscaled_bytes(n, size) for n in edges])


@given(st.sampled_from(DECIMALS), st.lists(st.integers(min_value=-(10**80), max_value=10**80), max_size=50))
def test_bytes_decimals_agree_on_generated_values(shape: tuple[int, int], unscaled: list[int]) -> None:
    precision, scale = shape
    assert_agrees(decimal_node(precision, scale), [unscaled_bytes(n) for n in unscaled])


@given(st.lists(st.binary(max_size=40), max_size=50))
def test_bytes_decimals_agree_on_any_bytes(raw: list[bytes]) -> None:
    assert_agrees(decimal_node(12, 2), raw)


@pytest.mark.parametrize("extra", [{"precision": 0}, {"precision": None}, {}, {"precision": 10**7, "scale": 3}])
def test_decimals_of_unusual_precision_agree(extra: dict[str, Any]) -> None:
    """A precision fastavro's parser lets through but its reader refuses (zero, null, missing) fails alike; a huge
    one converts alike."""
    assert_agrees(node("bytes", "decimal", **extra), [b"", b"\x01", b"\xff\x00"])


TIMESTAMP_EDGES = [0, 1, -1, 999, -999, 1000, -1001, 1_733_000_000_123, -62_135_596_800_000, 253_402_300_799_999]


@pytest.mark.parametrize("logical", ["timestamp-millis", "timestamp-micros"])
def test_timestamps_agree_on_edge_values(logical: str) -> None:
    """The epoch, either side of it, the first and last instants a datetime holds and just beyond them."""
    per_unit = 1000 if logical == "timestamp-millis" else 1
    ends = [MIN_MICROS // per_unit, MAX_MICROS // per_unit]
    edges = [*TIMESTAMP_EDGES, *ends, ends[0] - 1, ends[1] + 1, 2**63 - 1, -(2**63)]
    assert_agrees(node("long", logical), edges)


@given(st.lists(st.integers(min_value=-(2**63), max_value=2**63 - 1), max_size=50))
def test_timestamps_agree_on_generated_values(values: list[int]) -> None:
    assert_agrees(node("long", "timestamp-millis"), values)
    assert_agrees(node("long", "timestamp-micros"), values)


@given(st.lists(st.integers(min_value=MIN_MICROS // 1000, max_value=MAX_MICROS // 1000), max_size=50))
def test_timestamps_agree_within_the_calendar(values: list[int]) -> None:
    assert_agrees(node("long", "timestamp-millis"), values)
    assert_agrees(node("long", "timestamp-micros"), [value * 1000 + 999 for value in values])


def test_dates_agree_on_edge_values() -> None:
    assert_agrees(node("int", "date"), [0, 1, -1, MIN_DAYS, MAX_DAYS, MIN_DAYS - 1, MAX_DAYS + 1, 2**31 - 1, -(2**31)])


@given(st.lists(st.integers(min_value=-(2**31), max_value=2**31 - 1), max_size=50))
def test_dates_agree_on_generated_values(values: list[int]) -> None:
    assert_agrees(node("int", "date"), values)


def test_uuids_agree_on_every_spelling_and_on_text_that_is_none() -> None:
    some = uuid.UUID("6d92078a-8246-4ba4-ae5b-76104861e7dc")
    spellings = [str(some), some.hex, str(some).upper(), f"{{{some}}}", some.urn, str(uuid.UUID(int=0))]
    assert_agrees(node("string", "uuid"), [*spellings, "", "not-a-uuid", str(some)[:-1]])


@given(st.lists(st.uuids().map(str) | st.text(max_size=40), max_size=50))
def test_uuids_agree_on_generated_values(values: list[str]) -> None:
    assert_agrees(node("string", "uuid"), values)


@pytest.mark.parametrize(
    ("kind", "logical", "values"),
    [
        ("long", "local-timestamp-millis", [0, -1, 1_733_000_000_123]),
        ("long", "local-timestamp-micros", [0, -1, 1_733_000_000_123_456]),
        ("int", "time-millis", [0, 1, 86_399_999]),
        ("long", "time-micros", [0, 1, 86_399_999_999]),
    ],
)
def test_other_logical_types_convert_as_fastavro_reads_them(kind: str, logical: str, values: list[int]) -> None:
    """A logical type without a compiled converter is converted by fastavro's own reader."""
    assert_agrees(node(kind, logical), values)


def test_a_logical_type_fastavro_does_not_know_has_no_converter() -> None:
    """It is read as its underlying type, as fastavro reads it."""
    assert logical_converter(node("string", "not-a-known-type")) is None
