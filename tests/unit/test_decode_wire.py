"""Confluent framing: magic byte 0, a 4-byte big-endian schema id, then the Avro body."""

from __future__ import annotations

import pytest

from consumer.decode.errors import BadMagicByteError, MalformedPayloadError, UnknownSchemaError
from consumer.decode.wire import MAX_SCHEMA_ID, PAYLOAD_OFFSET, frame, read_schema_id


def test_frame_then_read_gives_back_the_id_and_body() -> None:
    """A framed value carries its schema id in the header and the body right after it."""
    value = frame(4242, b"body")
    assert read_schema_id(value) == 4242
    assert value[PAYLOAD_OFFSET:] == b"body"


def test_schema_id_is_big_endian() -> None:
    """The id is read most significant byte first, as Confluent serializers write it."""
    assert read_schema_id(b"\x00\x00\x00\x01\x02") == 258


def test_wrong_first_byte_is_bad_magic() -> None:
    """A value that does not start with 0x00 is not Confluent-framed (e.g. a JSON value)."""
    with pytest.raises(BadMagicByteError, match="0x7b"):
        read_schema_id(b'{"order_id": "1"}')


def test_empty_value_is_malformed() -> None:
    """Zero bytes cannot hold a header."""
    with pytest.raises(MalformedPayloadError, match="empty"):
        read_schema_id(b"")


def test_value_shorter_than_the_header_is_malformed() -> None:
    """Magic byte 0 followed by fewer than four id bytes is a truncated header."""
    with pytest.raises(MalformedPayloadError, match="shorter than the 5-byte header"):
        read_schema_id(b"\x00\x00\x01")


def test_id_beyond_the_registry_range_is_unknown() -> None:
    """Registries use signed 32-bit ids, so an id above 2**31-1 cannot exist: no need to ask the registry."""
    with pytest.raises(UnknownSchemaError):
        read_schema_id(b"\x00\xff\xff\xff\xff")


def test_frame_rejects_ids_a_registry_cannot_have() -> None:
    """Building a frame with a negative or too large id is a programming error."""
    for schema_id in (-1, MAX_SCHEMA_ID + 1):
        with pytest.raises(ValueError, match="outside"):
            frame(schema_id, b"")
