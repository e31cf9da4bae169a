"""Dead-letter records: the original message byte-for-byte plus context headers, and the way back. Pure.

A dead-letter record keeps the source message's key, value, headers and timestamp unchanged and appends context
headers as UTF-8 strings. Kafka Connect's names are used for what Connect reports, so tools built for Connect's
dead-letter queues read them; the service's own details go under one configurable prefix (``tiktok.relay.`` by
default). ``parse_context`` and ``original_headers`` read a record back, for inspection and replay.
``audit_record`` builds the consent-audit record of a withheld event.

| header | value |
|---|---|
| ``__connect.errors.topic`` / ``.partition`` / ``.offset`` | where the message was consumed |
| ``__connect.errors.stage`` | ``decode``, ``map``, ``policy`` or ``send`` |
| ``__connect.errors.exception.class.name`` / ``.exception.message`` | the error (PII-masked, truncated) |
| ``<prefix>reason`` | stable reason category (the ``dead_lettered`` metric's label) |
| ``<prefix>attempts`` | delivery attempts made |
| ``<prefix>first.failure`` / ``<prefix>last.failure`` | ISO 8601 UTC, milliseconds |
| ``<prefix>http.status``, ``<prefix>tiktok.code`` | TikTok's HTTP status and body code, when there was an answer |
| ``<prefix>tiktok.message``, ``<prefix>tiktok.request_id`` | TikTok's message (masked) and request id |
| ``<prefix>route`` | the route that mapped the message, when known |
| ``<prefix>version`` | the service version that wrote the record |

A *reduced* dead letter is written when the full record is too large for the dead-letter topic (or the producer's
``message.max.bytes``): the value (and, if that is not enough, the key and the source's own headers) is left out,
and these headers say what is missing and how to find and check it again in the source topic (whose
``__connect.errors.topic``/``.partition``/``.offset`` name it):

| header | value |
|---|---|
| ``<prefix>omitted`` | what was left out: ``value``, or ``value,key,headers`` |
| ``<prefix>omitted.because`` | the producer's error, e.g. ``MSG_SIZE_TOO_LARGE`` |
| ``<prefix>original.value.size`` / ``.sha256`` | the original value's length in bytes and SHA-256 (hex) |
| ``<prefix>original.key.size`` / ``.sha256`` | the same for the key, when it was left out |
| ``<prefix>original.headers.count`` | how many headers of its own the source message had, when they were left out |
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from hashlib import sha256
from typing import TypeVar

import orjson

from consumer.model import ConsentWithheld, Failure, Header, SourceMessage, SourceRef, Stage
from consumer.observability.logging import mask_text
from consumer.times import format_time_ms, parse_time_ms

CONNECT_PREFIX = "__connect.errors."
CONNECT_TOPIC = CONNECT_PREFIX + "topic"
CONNECT_PARTITION = CONNECT_PREFIX + "partition"
CONNECT_OFFSET = CONNECT_PREFIX + "offset"
CONNECT_STAGE = CONNECT_PREFIX + "stage"
CONNECT_EXCEPTION_CLASS = CONNECT_PREFIX + "exception.class.name"
CONNECT_EXCEPTION_MESSAGE = CONNECT_PREFIX + "exception.message"

REASON = "reason"
ATTEMPTS = "attempts"
FIRST_FAILURE = "first.failure"
LAST_FAILURE = "last.failure"
HTTP_STATUS = "http.status"
TIKTOK_CODE = "tiktok.code"
TIKTOK_MESSAGE = "tiktok.message"
TIKTOK_REQUEST_ID = "tiktok.request_id"
ROUTE = "route"
VERSION = "version"
OMITTED = "omitted"
OMITTED_BECAUSE = "omitted.because"
ORIGINAL_VALUE_SIZE = "original.value.size"
ORIGINAL_VALUE_SHA256 = "original.value.sha256"
ORIGINAL_KEY_SIZE = "original.key.size"
ORIGINAL_KEY_SHA256 = "original.key.sha256"
ORIGINAL_HEADERS_COUNT = "original.headers.count"

REDUCTION_HEADERS = (
    OMITTED,
    OMITTED_BECAUSE,
    ORIGINAL_VALUE_SIZE,
    ORIGINAL_VALUE_SHA256,
    ORIGINAL_KEY_SIZE,
    ORIGINAL_KEY_SHA256,
    ORIGINAL_HEADERS_COUNT,
)

VALUE, KEY, HEADERS = "value", "key", "headers"
REDUCTIONS: tuple[tuple[str, ...], ...] = ((VALUE,), (VALUE, KEY, HEADERS))
"""The reduced forms to try in turn when a dead-letter record is too large: first without the value (what is large
in practice), then without anything of the source message but its context."""

RawHeaders = Sequence[tuple[str, str | bytes | None]]
"""Headers as a Kafka client hands them over (values are bytes when consumed)."""
H = TypeVar("H", bound=tuple[str, str | bytes | None])

MAX_TEXT_CHARS = 1000
"""Free-text headers (exception and TikTok messages) are cut to this many characters."""


class NotADeadLetterRecordError(ValueError):
    """The headers lack the context a dead-letter record written by this service carries."""


@dataclass(frozen=True, slots=True)
class DeadLetterRecord:
    """What the publisher produces: the original bytes, the headers with context appended, and the partition to
    keep (the source's, so order per key survives when the dead-letter topic has as many partitions)."""

    key: bytes | None
    value: bytes | None
    headers: list[Header]
    timestamp_ms: int | None
    partition: int


@dataclass(frozen=True, slots=True)
class DeadLetterContext:
    """The context headers of a dead-letter record, read back."""

    source: SourceRef
    failure: Failure
    service_version: str | None


def _clean_text(text: str) -> str:
    return mask_text(text)[:MAX_TEXT_CHARS]


def context_headers(ref: SourceRef, failure: Failure, prefix: str, version: str) -> list[tuple[str, bytes]]:
    """The context headers for one failed message, in a stable order; optional facts are omitted when absent."""
    values: list[tuple[str, str | int | None]] = [
        (CONNECT_TOPIC, ref.topic),
        (CONNECT_PARTITION, ref.partition),
        (CONNECT_OFFSET, ref.offset),
        (CONNECT_STAGE, str(failure.stage)),
        (CONNECT_EXCEPTION_CLASS, failure.exception_class),
        (CONNECT_EXCEPTION_MESSAGE, _clean_text(failure.message)),
        (prefix + REASON, failure.reason),
        (prefix + ATTEMPTS, failure.attempts),
        (
            prefix + FIRST_FAILURE,
            None if failure.first_failure_ms is None else format_time_ms(failure.first_failure_ms),
        ),
        (prefix + LAST_FAILURE, None if failure.last_failure_ms is None else format_time_ms(failure.last_failure_ms)),
        (prefix + HTTP_STATUS, failure.http_status),
        (prefix + TIKTOK_CODE, failure.tiktok_code),
        (prefix + TIKTOK_MESSAGE, None if failure.tiktok_message is None else _clean_text(failure.tiktok_message)),
        (prefix + TIKTOK_REQUEST_ID, failure.request_id),
        (prefix + ROUTE, failure.route),
        (prefix + VERSION, version),
    ]
    return [(name, str(value).encode()) for name, value in values if value is not None]


def dead_letter_record(message: SourceMessage, failure: Failure, prefix: str, version: str) -> DeadLetterRecord:
    """The dead-letter record of ``message``: original key, value, headers and timestamp, context appended."""
    return DeadLetterRecord(
        key=message.key,
        value=message.value,
        headers=[*message.headers, *context_headers(message.ref, failure, prefix, version)],
        timestamp_ms=message.timestamp_ms,
        partition=message.ref.partition,
    )


@dataclass(frozen=True, slots=True)
class Reduction:
    """What a reduced dead letter left out, and how to recognise the original in the source topic."""

    omitted: tuple[str, ...]
    because: str
    value_size: int | None = None
    value_sha256: str | None = None
    key_size: int | None = None
    key_sha256: str | None = None
    headers_count: int | None = None

    def matches(self, key: bytes | None, value: bytes | None) -> bool:
        """True if ``key`` and ``value`` are the bytes that were left out (sizes and SHA-256 agree)."""
        return _same(value, self.value_size, self.value_sha256) and _same(key, self.key_size, self.key_sha256)


def _same(data: bytes | None, size: int | None, digest: str | None) -> bool:
    if size is None:
        return True
    return data is not None and len(data) == size and sha256(data).hexdigest() == digest


def _size_headers(part: str, data: bytes | None) -> list[tuple[str, str | int]]:
    if data is None:
        return []
    return [(f"original.{part}.size", len(data)), (f"original.{part}.sha256", sha256(data).hexdigest())]


def reduce_record(record: DeadLetterRecord, omit: tuple[str, ...], because: str, prefix: str) -> DeadLetterRecord:
    """``record`` without the parts named in ``omit`` (``value``, ``key``, ``headers``), with headers saying what
    was left out, why, and the sizes and SHA-256 digests to check an original fetched from the source against."""
    own, context = split_headers(record.headers, prefix)
    facts: list[tuple[str, str | int]] = [(OMITTED, ",".join(omit)), (OMITTED_BECAUSE, because)]
    if VALUE in omit:
        facts += _size_headers(VALUE, record.value)
    if KEY in omit:
        facts += _size_headers(KEY, record.key)
    if HEADERS in omit:
        facts.append((ORIGINAL_HEADERS_COUNT, len(own)))
    return DeadLetterRecord(
        key=None if KEY in omit else record.key,
        value=None if VALUE in omit else record.value,
        headers=[*([] if HEADERS in omit else own), *context, *((prefix + n, str(v).encode()) for n, v in facts)],
        timestamp_ms=record.timestamp_ms,
        partition=record.partition,
    )


def restore_headers(headers: Sequence[H], original: Sequence[H], prefix: str) -> list[H]:
    """The headers of a reduced dead letter as if it had been written whole: ``original`` (the source message's
    own, read back from the source topic), then the context without the reduction's headers."""
    reduction_names = {prefix + name for name in REDUCTION_HEADERS}
    return [*original, *(h for h in split_headers(headers, prefix)[1] if h[0] not in reduction_names)]


def reduction(headers: RawHeaders, prefix: str) -> Reduction | None:
    """What a reduced dead letter left out (None for a whole one)."""
    values = {name: _text(value) for name, value in split_headers(headers, prefix)[1] if value is not None}
    omitted = values.get(prefix + OMITTED)
    if omitted is None:
        return None
    return Reduction(
        omitted=tuple(omitted.split(",")),
        because=values.get(prefix + OMITTED_BECAUSE, ""),
        value_size=_optional_int(values, prefix + ORIGINAL_VALUE_SIZE),
        value_sha256=values.get(prefix + ORIGINAL_VALUE_SHA256),
        key_size=_optional_int(values, prefix + ORIGINAL_KEY_SIZE),
        key_sha256=values.get(prefix + ORIGINAL_KEY_SHA256),
        headers_count=_optional_int(values, prefix + ORIGINAL_HEADERS_COUNT),
    )


def is_context_header(name: str, prefix: str) -> bool:
    """True for a header name this service (or Kafka Connect) uses for dead-letter context."""
    return name.startswith(CONNECT_PREFIX) or name.startswith(prefix)


def split_headers(headers: Sequence[H], prefix: str) -> tuple[list[H], list[H]]:
    """Split a dead-letter record's headers into the source message's own and the context block.

    The context block is the last ``__connect.errors.topic`` header (the first one written) and the context headers
    after it, so a source message that carried such headers itself (a record dead-lettered twice) keeps them."""
    start = len(headers)
    for index in range(len(headers) - 1, -1, -1):
        name = headers[index][0]
        if not is_context_header(name, prefix):
            break
        if name == CONNECT_TOPIC:
            start = index
            break
    return list(headers[:start]), list(headers[start:])


def original_headers(headers: Sequence[H], prefix: str) -> list[H]:
    """The source message's own headers, as they were before dead-lettering (for replay)."""
    return split_headers(headers, prefix)[0]


def _text(value: str | bytes) -> str:
    return value if isinstance(value, str) else value.decode("utf-8", errors="replace")


def _optional_int(values: Mapping[str, str], name: str) -> int | None:
    text = values.get(name)
    return None if text is None else int(text)


def _optional_time(values: Mapping[str, str], name: str) -> int | None:
    text = values.get(name)
    return None if text is None else parse_time_ms(text)


def parse_context(headers: RawHeaders, prefix: str) -> DeadLetterContext:
    """Read the context headers of a dead-letter record back; ``NotADeadLetterRecordError`` if they are incomplete."""
    context = split_headers(headers, prefix)[1]
    values = {name: _text(value) for name, value in context if value is not None}
    required = (CONNECT_TOPIC, CONNECT_PARTITION, CONNECT_OFFSET, CONNECT_STAGE, prefix + REASON)
    missing = [name for name in required if name not in values]
    if missing:
        raise NotADeadLetterRecordError(f"missing dead-letter headers: {', '.join(missing)}")
    try:
        source = SourceRef(values[CONNECT_TOPIC], int(values[CONNECT_PARTITION]), int(values[CONNECT_OFFSET]))
        failure = Failure(
            stage=Stage(values[CONNECT_STAGE]),
            reason=values[prefix + REASON],
            exception_class=values.get(CONNECT_EXCEPTION_CLASS, ""),
            message=values.get(CONNECT_EXCEPTION_MESSAGE, ""),
            attempts=_optional_int(values, prefix + ATTEMPTS) or 1,
            first_failure_ms=_optional_time(values, prefix + FIRST_FAILURE),
            last_failure_ms=_optional_time(values, prefix + LAST_FAILURE),
            http_status=_optional_int(values, prefix + HTTP_STATUS),
            tiktok_code=_optional_int(values, prefix + TIKTOK_CODE),
            tiktok_message=values.get(prefix + TIKTOK_MESSAGE),
            request_id=values.get(prefix + TIKTOK_REQUEST_ID),
            route=values.get(prefix + ROUTE),
        )
    except ValueError as error:
        raise NotADeadLetterRecordError(f"malformed dead-letter header: {error}") from None
    return DeadLetterContext(source=source, failure=failure, service_version=values.get(prefix + VERSION))


def audit_record(withheld: ConsentWithheld) -> tuple[bytes, bytes]:
    """The consent-audit record of a withheld event: key ``event_id``, a JSON value without any PII."""
    value = {
        "event_id": withheld.event_id,
        "route": withheld.route,
        "event": withheld.event,
        "reason": withheld.reason,
        "decided_at": format_time_ms(withheld.decided_at_ms),
        "source_topic": withheld.ref.topic,
        "source_partition": withheld.ref.partition,
        "source_offset": withheld.ref.offset,
    }
    return withheld.event_id.encode(), orjson.dumps(value)
