"""Fuzzing the decoder with schema-shaped records: every record of a reference schema round-trips, and every
corruption of its bytes (a flipped byte, a cut, an insertion) decodes or raises a DecodeError, never anything else.

Arbitrary bytes are covered in test_decode_malformed.py; mutating valid encodings reaches deeper into the reader
(nested records, arrays, unions, decimals) than random bytes do."""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from consumer.decode.avro import Decoder
from consumer.decode.errors import DecodeError
from consumer.decode.settings import DecodeSettings, TopicSchemaSettings
from consumer.demo.samples import REFERENCE_SCHEMAS, encode, reference_schema, reference_schema_path
from consumer.model import DomainRecord, SourceMessage, SourceRef
from tests.unit.fuzz_strategies import FUZZ, values_of

SCHEMAS = sorted(REFERENCE_SCHEMAS)


@cache
def decoder() -> Decoder:
    """One plain-Avro topic per reference schema (latest version), named after the schema."""
    topics = {name: TopicSchemaSettings(format="avro", writer_schema=reference_schema_path(name)) for name in SCHEMAS}
    return Decoder.from_settings(DecodeSettings(topics=topics), lambda path: path)


@st.composite
def encoded(draw: st.DrawFn) -> tuple[str, dict[str, Any], bytes]:
    """A reference schema, a random record of it, and the record's Avro bytes."""
    schema = draw(st.sampled_from(SCHEMAS))
    record = draw(values_of(reference_schema(schema).parsed))
    return schema, record, encode(schema, record)


@st.composite
def corrupted(draw: st.DrawFn) -> tuple[str, bytes]:
    """A reference schema and a valid encoding of it with one corruption applied."""
    schema, _, value = draw(encoded())
    at = draw(st.integers(0, max(0, len(value) - 1)))
    kind = draw(st.sampled_from(["flip", "cut", "insert", "delete"]))
    if kind == "flip" and value:
        value = value[:at] + bytes([value[at] ^ draw(st.integers(1, 255))]) + value[at + 1 :]
    elif kind == "cut":
        value = value[:at]
    elif kind == "insert":
        value = value[:at] + draw(st.binary(min_size=1, max_size=8)) + value[at:]
    else:
        value = value[:at] + value[at + draw(st.integers(1, 8)) :]
    return schema, value


def decode(schema: str, value: bytes) -> DomainRecord:
    return decoder().decode(SourceMessage(ref=SourceRef(schema, 0, 0), key=None, value=value))


@FUZZ
@given(case=encoded())
def test_any_record_of_a_reference_schema_round_trips(case: tuple[str, dict[str, Any], bytes]) -> None:
    """Decoding the bytes of any record of a reference schema gives back the same values (the decoder's shapes:
    Decimal, aware datetime, enum symbols, dicts) under the schema's full name."""
    schema, record, value = case
    decoded = decode(schema, value)
    assert decoded.schema_name == schema
    assert decoded.value == record


@FUZZ
@given(case=corrupted())
def test_corrupted_record_decodes_or_raises_a_decode_error(case: tuple[str, bytes]) -> None:
    """A corrupted encoding either still reads as a record or raises a DecodeError (which dead-letters it); no
    other exception escapes the decoder."""
    schema, value = case
    try:
        decoded = decode(schema, value)
    except DecodeError:
        return
    assert isinstance(decoded.value, dict)
