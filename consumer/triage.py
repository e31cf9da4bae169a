"""What becomes of one source message before it is sent: decode -> translate -> classify the failure, once.

The service, the direct replay, the report and ``tiktok-relay map`` all ask the same question of a message, and
get the answer as a value instead of an exception to catch:

- what the translator returns: an ``OutboundEvent`` (translated: to send), a ``ConsentWithheld`` (withheld: to
  audit) or a ``Skipped`` (a skip rule's: to settle at once);
- ``Failed``: decode, mapping or policy rejected it, with the ``Failure`` a dead-letter record reports (stage and
  reason); a bug in decoding or mapping is a failure too (``internal_error``), so the stream goes on;
- ``Held``: decoding failed transiently (a registry outage, or a schema being fetched): nothing is wrong with the
  message, it must wait and be tried again.

``translate`` is the translator's ``translate`` for the service and the replay, or its ``explain`` for the report
and ``map``, which count nothing and want the identifiers it drops: the ladder is the same.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, TypeVar

import structlog

from consumer.model import (
    DomainRecord,
    Failure,
    PermanentError,
    SourceMessage,
    SourceRef,
    Stage,
    TransientError,
)

log = structlog.get_logger(__name__)

INTERNAL_ERROR = "internal_error"

T = TypeVar("T")


class Decoding(Protocol):
    def decode(self, message: SourceMessage) -> DomainRecord: ...


Translate = Callable[[DomainRecord, SourceRef, int], T]
"""``Translator.translate`` (a ``Translation``) or ``Translator.explain`` (an ``Explanation``)."""


@dataclass(frozen=True, slots=True)
class Failed:
    """Decode, mapping or policy rejected the message: ``failure`` is what its dead-letter record reports, and
    ``error`` the exception behind it (a ``ConfigError`` from the decoder means the config, not the message, is
    wrong: a command reports that instead)."""

    failure: Failure
    error: Exception


@dataclass(frozen=True, slots=True)
class Held:
    """Decoding failed transiently (``error`` is a ``TransientError``, or a ``ResourcePendingError`` that ends on
    its own): the message must wait, in order, and be tried again."""

    error: TransientError


def internal_failure(stage: Stage, error: BaseException, now_ms: int, route: str | None = None) -> Failure:
    """The failure of a message that hit a bug rather than bad data: dead-lettered (so the stream goes on and the
    message can be replayed after the fix) under one reason that stands out."""
    return Failure(
        stage=stage,
        reason=INTERNAL_ERROR,
        exception_class=type(error).__name__,
        message=str(error),
        first_failure_ms=now_ms,
        last_failure_ms=now_ms,
        route=route,
    )


_NOT_DECODED = (Failed, Held)
"""What ``decode_message`` returns instead of a record; a tuple built once (``Failed | Held`` in ``triage`` made a new
union object per message)."""


def decode_message(decoder: Decoding, message: SourceMessage, now_ms: int) -> DomainRecord | Failed | Held:
    """The message's record, or why there is none."""
    try:
        return decoder.decode(message)
    except PermanentError as error:
        return Failed(Failure.from_error(error, now_ms), error)
    except TransientError as error:
        return Held(error)
    except Exception as error:  # a bug must not stop the stream: the message is dead-lettered, loudly
        ref = message.ref
        log.exception("decode_internal_error", topic=ref.topic, partition=ref.partition, offset=ref.offset)
        return Failed(internal_failure(Stage.DECODE, error, now_ms), error)


def translate_record(
    translate: Translate[T], record: DomainRecord, ref: SourceRef, now_ms: int, route: str | None = None
) -> T | Failed:
    """The record's translation, or why mapping or policy rejected it. ``route`` names the route already selected
    for the record, if any, in an internal failure (a rejection names its own)."""
    try:
        return translate(record, ref, now_ms)
    except PermanentError as error:
        return Failed(Failure.from_error(error, now_ms, getattr(error, "route", None)), error)
    except Exception as error:  # as above
        log.exception("translate_internal_error", topic=ref.topic, partition=ref.partition, offset=ref.offset)
        return Failed(internal_failure(Stage.MAP, error, now_ms, route), error)


def triage(decoder: Decoding, translate: Translate[T], message: SourceMessage, now_ms: int) -> T | Failed | Held:
    """Decode and translate one message: what the service would do with it."""
    record = decode_message(decoder, message, now_ms)
    if isinstance(record, _NOT_DECODED):
        return record
    return translate_record(translate, record, message.ref, now_ms)
