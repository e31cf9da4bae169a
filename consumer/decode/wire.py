"""The Confluent wire format, pure: magic byte 0, the writer schema's registry id as a 4-byte big-endian integer,
then the schemaless Avro body."""

from __future__ import annotations

import struct

from consumer.decode.errors import BadMagicByteError, MalformedPayloadError, UnknownSchemaError

MAGIC_BYTE = 0
_HEADER = struct.Struct(">BI")
PAYLOAD_OFFSET = _HEADER.size
"""Where the Avro body starts in a framed value."""
MAX_SCHEMA_ID = 2**31 - 1
"""Registries number schemas with signed 32-bit integers; a larger id cannot exist."""


def read_schema_id(value: bytes) -> int:
    """The schema id of a Confluent-framed value; raises the ``DecodeError`` that says why the framing is wrong."""
    if not value:
        raise MalformedPayloadError("empty value")
    if value[0] != MAGIC_BYTE:
        raise BadMagicByteError(f"first byte is 0x{value[0]:02x}, not the Confluent magic byte 0x00")
    if len(value) < PAYLOAD_OFFSET:
        raise MalformedPayloadError(f"value of {len(value)} bytes is shorter than the {PAYLOAD_OFFSET}-byte header")
    schema_id: int = _HEADER.unpack_from(value)[1]
    if schema_id > MAX_SCHEMA_ID:
        raise UnknownSchemaError(f"schema id {schema_id} is beyond the registry's id range")
    return schema_id


def frame(schema_id: int, payload: bytes) -> bytes:
    """Prefix a schemaless Avro body with the Confluent header for ``schema_id``."""
    if not 0 <= schema_id <= MAX_SCHEMA_ID:
        raise ValueError(f"schema id {schema_id} is outside 0..{MAX_SCHEMA_ID}")
    return _HEADER.pack(MAGIC_BYTE, schema_id) + payload
