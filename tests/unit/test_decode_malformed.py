"""Bad bytes are data, not crashes: each malformed input yields its named, permanent decode error."""

from __future__ import annotations

import contextlib
import random
import socket

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.decode.avro import Decoder
from consumer.decode.errors import (
    BadMagicByteError,
    DecodeError,
    MalformedPayloadError,
    TombstoneError,
    UnknownSchemaError,
)
from consumer.decode.settings import DecodeSettings, RegistrySettings, TopicSchemaSettings
from consumer.decode.wire import read_schema_id
from consumer.demo.samples import REFERENCE_SCHEMAS, encode, reference_schema_path, sample_record
from consumer.model import Failure, PermanentError, SourceMessage, SourceRef, Stage

PAID = encode("OrderPaid", sample_record("OrderPaid"))


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def decoder() -> Decoder:
    """Topic "plain" is plain Avro (OrderPaid v2); topic "framed" is Confluent-framed, with a registry address that
    nothing listens on: every framing error below must be found without asking the registry."""
    settings = DecodeSettings(
        registry=RegistrySettings(url=f"http://127.0.0.1:{unused_port()}", max_retries=0),
        topics={
            "plain": TopicSchemaSettings(format="avro", writer_schema=reference_schema_path("OrderPaid")),
            "framed": TopicSchemaSettings(format="confluent"),
        },
    )
    return Decoder.from_settings(settings, lambda path: path)


def replaced(value: bytes, old: bytes, new: bytes) -> bytes:
    assert len(old) == len(new) and value.count(old) == 1
    return value.replace(old, new)


def with_first_byte(value: bytes, first: int) -> bytes:
    return bytes([first]) + value[1:]


CORPUS: list[tuple[str, str, bytes | None, type[DecodeError], str]] = [
    ("tombstone", "plain", None, TombstoneError, "decode_tombstone"),
    ("empty", "plain", b"", MalformedPayloadError, "decode_malformed"),
    ("truncated_half", "plain", PAID[: len(PAID) // 2], MalformedPayloadError, "decode_malformed"),
    ("truncated_last_byte", "plain", PAID[:-1], MalformedPayloadError, "decode_malformed"),
    ("trailing_bytes", "plain", PAID + b"\x00\x00", MalformedPayloadError, "decode_malformed"),
    ("random_bytes", "plain", random.Random(7).randbytes(96), MalformedPayloadError, "decode_malformed"),
    ("invalid_utf8", "plain", replaced(PAID, b"Jane.Doe", b"\xffane.Doe"), MalformedPayloadError, "decode_malformed"),
    ("union_index_out_of_range", "plain", with_first_byte(PAID, 0x08), MalformedPayloadError, "decode_malformed"),
    (
        "bytes_of_another_schema",
        "plain",
        encode("LeadStatusChanged", sample_record("LeadStatusChanged")),
        MalformedPayloadError,
        "decode_malformed",
    ),
    ("framed_tombstone", "framed", None, TombstoneError, "decode_tombstone"),
    ("framed_empty", "framed", b"", MalformedPayloadError, "decode_malformed"),
    ("json_value", "framed", b'{"order_id": "ord-1001"}', BadMagicByteError, "decode_bad_magic"),
    ("plain_avro_on_confluent_topic", "framed", PAID, BadMagicByteError, "decode_bad_magic"),
    ("guid_framing", "framed", b"\x01" + bytes(16) + PAID, BadMagicByteError, "decode_bad_magic"),
    ("short_header", "framed", b"\x00\x00\x00\x01", MalformedPayloadError, "decode_malformed"),
    ("id_out_of_range", "framed", b"\x00\x80\x00\x00\x00" + PAID, UnknownSchemaError, "decode_unknown_schema"),
]


@pytest.mark.parametrize(("case", "topic", "value", "error", "reason"), CORPUS, ids=[case[0] for case in CORPUS])
def test_malformed_input_yields_its_named_error(
    case: str, topic: str, value: bytes | None, error: type[DecodeError], reason: str
) -> None:
    """Each malformed input raises its own DecodeError subclass: a permanent, decode-stage failure with a stable
    reason, which the pipeline dead-letters with the original bytes."""
    with pytest.raises(error) as caught:
        decoder().decode(SourceMessage(ref=SourceRef(topic, 0, 1), key=None, value=value))
    assert isinstance(caught.value, PermanentError)
    assert (caught.value.stage, caught.value.reason) == (Stage.DECODE, reason)


@pytest.mark.parametrize(("case", "topic", "value", "error", "reason"), CORPUS, ids=[case[0] for case in CORPUS])
def test_error_messages_quote_no_payload(
    case: str, topic: str, value: bytes | None, error: type[DecodeError], reason: str
) -> None:
    """Dead-letter headers carry the error message, so it names positions and schemas, never payload text (which
    holds personal data such as the sample's e-mail address)."""
    with pytest.raises(DecodeError) as caught:
        decoder().decode(SourceMessage(ref=SourceRef(topic, 0, 1), key=None, value=value))
    assert not any(text in str(caught.value) for text in ("Jane", "Doe", "Example.com", "ord-1001"))


def test_decode_error_fills_a_dead_letter_failure() -> None:
    """A decode error converts to the Failure the dead-letter record reports (stage, reason, class, message)."""
    with pytest.raises(DecodeError) as caught:
        decoder().decode(SourceMessage(ref=SourceRef("framed", 0, 1), key=None, value=b"{}"))
    failure = Failure.from_error(caught.value, now_ms=1_700_000_000_000)
    assert (failure.stage, failure.reason, failure.exception_class) == (
        Stage.DECODE,
        "decode_bad_magic",
        "BadMagicByteError",
    )


@given(value=st.binary(max_size=512), schema=st.sampled_from(sorted(REFERENCE_SCHEMAS)))
def test_arbitrary_bytes_never_crash_plain_decoding(value: bytes, schema: str) -> None:
    """Whatever the bytes, decoding with any reference schema returns a record or raises a DecodeError; nothing
    else escapes to crash the pipeline."""
    settings = DecodeSettings(
        topics={"t": TopicSchemaSettings(format="avro", writer_schema=reference_schema_path(schema))}
    )
    plain = Decoder.from_settings(settings, lambda path: path)
    with contextlib.suppress(DecodeError):
        plain.decode(SourceMessage(ref=SourceRef("t", 0, 0), key=None, value=value))


@given(value=st.binary(max_size=16))
def test_arbitrary_bytes_never_crash_framing(value: bytes) -> None:
    """Parsing the Confluent header of any bytes returns an id or raises a DecodeError."""
    with contextlib.suppress(DecodeError):
        assert read_schema_id(value) >= 0
