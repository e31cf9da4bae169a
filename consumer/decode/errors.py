"""Why a message could not be decoded. Bad bytes are data, not crashes: each kind is a ``PermanentError`` with a
stable ``reason`` that the pipeline dead-letters with the original bytes. A registry outage is not the message's
fault: ``RegistryUnavailable`` is transient, so the caller retries and never dead-letters it; so is
``SchemaFetchPendingError`` while a schema is fetched off the event loop.

Messages name offsets, lengths, schema ids and schema names only, never decoded values (they may be personal data).
"""

from __future__ import annotations

from consumer.model import PermanentError, ResourcePendingError, Stage, TransientError


class DecodeError(PermanentError):
    """Base of the decode failures; raise one of the subclasses."""

    stage = Stage.DECODE
    reason = "decode_error"


class TombstoneError(DecodeError):
    """The message has a null value (a compaction tombstone): there is no event to relay."""

    reason = "decode_tombstone"


class BadMagicByteError(DecodeError):
    """A confluent-format topic carried a value that does not start with magic byte 0."""

    reason = "decode_bad_magic"


class UnknownSchemaError(DecodeError):
    """The registry answered that it has no schema with the message's id."""

    reason = "decode_unknown_schema"


class MalformedPayloadError(DecodeError):
    """The bytes are not a record of the writer schema: truncated, corrupt, random, or followed by extra bytes."""

    reason = "decode_malformed"


class SchemaMismatchError(DecodeError):
    """The writer schema cannot be used: it does not resolve to the reader schema, is not an Avro record schema, or
    does not parse."""

    reason = "decode_schema_mismatch"


class SchemaFetchPendingError(ResourcePendingError):
    """The writer schema is being fetched from the registry in the background; ``ready`` is done when it ends."""


class RegistryUnavailable(TransientError):  # noqa: N818 - the name of the pipeline contract
    """The schema registry could not answer (connection refused, timeout, 5xx, authentication): retry later."""
