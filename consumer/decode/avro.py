"""Decode: Kafka value bytes to a ``DomainRecord`` (Confluent wire format with a registry, or plain Avro).

Each topic decodes one way, chosen in the ``schemas`` settings: ``confluent`` values carry their writer schema's
registry id, ``avro`` values were all written with one local ``.avsc``. When a reader schema is configured, records
are resolved to it (Avro schema evolution: fields the writer lacks take their defaults, fields the reader lacks are
dropped), so the mapper sees one shape whatever version produced the event. Values come out as plain Python:
``Decimal`` for decimals, timezone-aware ``datetime`` for timestamps, ``str`` for enum symbols, ``dict`` for maps
and records, the branch's value for unions. A decoder told which field paths its topic's routes read (the service's
is) converts decimals, timestamps, dates and uuids under those paths only and leaves the others as Avro wrote them
(bytes, ints): see ``consumer.decode.logical``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from io import BytesIO
from pathlib import Path
from typing import Any, Protocol, cast

from fastavro import schemaless_reader
from fastavro.read import SchemaResolutionError

from consumer.decode.errors import MalformedPayloadError, SchemaMismatchError, TombstoneError
from consumer.decode.logical import UnconvertibleSchemaError, compile_conversion, strip_logical_types
from consumer.decode.schemas import AvroSchema, RegistrySchemas, load_schema_file
from consumer.decode.settings import DecodeSettings, TopicSchemaSettings
from consumer.decode.wire import PAYLOAD_OFFSET, read_schema_id
from consumer.errors import ConfigError
from consumer.model import DomainRecord, SourceMessage

_MALFORMED = (EOFError, ValueError, IndexError, OverflowError, KeyError)
"""What fastavro raises on bytes that are not a record of the schema: truncation (EOFError), a union or enum index
out of range (IndexError), invalid UTF-8 (UnicodeDecodeError, a ValueError), a date out of range (OverflowError)."""


@dataclass(frozen=True, slots=True)
class ReadPlan:
    """How to read values of one writer schema: fastavro's parsed writer schema and, only when it differs from the
    writer, the reader schema to resolve to (passing an identical reader would cost a deep comparison per read).
    ``convert``: the writer is read without its logical types and this converts the ones under the paths that are
    read (see ``consumer.decode.logical``)."""

    name: str
    writer: dict[str, Any]
    reader: dict[str, Any] | None = None
    reader_name: str | None = None
    convert: Callable[[dict[str, Any]], Any] | None = None

    @classmethod
    def of(cls, writer: AvroSchema, reader: AvroSchema | None, reads: Collection[str] | None = None) -> ReadPlan:
        """``reads``: the only field paths whose logical values must be converted (``None``: all of them)."""
        if reader is not None and reader.parsed != writer.parsed:
            return cls(writer.name, writer.parsed, reader.parsed, reader.name)
        return cls.converting_only(writer, reads) if reads is not None else cls(writer.name, writer.parsed)

    @classmethod
    def converting_only(cls, writer: AvroSchema, reads: Collection[str]) -> ReadPlan:
        """Reading ``writer`` raw and converting the logical values under ``reads`` only, where that is exact."""
        raw = strip_logical_types(writer.parsed)
        if raw is None:
            return cls(writer.name, writer.parsed)
        try:
            convert = compile_conversion(writer.parsed, reads)
        except UnconvertibleSchemaError:
            return cls(writer.name, writer.parsed)
        return cls(writer.name, raw, convert=convert)


def read_record(value: bytes, offset: int, plan: ReadPlan) -> dict[str, Any]:
    """The record in ``value[offset:]``, which must hold exactly one record of the plan's writer schema."""
    stream = BytesIO(value)
    stream.seek(offset)
    try:
        record = cast(dict[str, Any], schemaless_reader(stream, plan.writer, plan.reader))
        if plan.convert is not None:
            plan.convert(record)
    except SchemaResolutionError:
        raise SchemaMismatchError(
            f"writer schema {plan.name} does not resolve to reader schema {plan.reader_name}"
        ) from None
    except _MALFORMED as error:
        # The error's own text may quote payload bytes (personal data): report its kind and position only.
        raise MalformedPayloadError(
            f"not a {plan.name} record: {type(error).__name__} at byte {stream.tell()} of {len(value)}"
        ) from None
    if stream.tell() != len(value):
        raise MalformedPayloadError(f"{len(value) - stream.tell()} bytes left over after a {plan.name} record")
    return record


class TopicDecoder(Protocol):
    """Decodes the values of one topic."""

    def decode(self, value: bytes) -> DomainRecord: ...


class ReaderChoice:
    """Which reader schema a record is resolved to: the topic's own, else the one named like the writer schema,
    else none (records keep the writer's shape); and which field paths of the topic's records are read."""

    def __init__(
        self, topic_reader: AvroSchema | None, by_name: Mapping[str, AvroSchema], reads: Collection[str] | None = None
    ) -> None:
        self._topic_reader = topic_reader
        self._by_name = by_name
        self._reads = reads

    def plan(self, writer: AvroSchema) -> ReadPlan:
        return ReadPlan.of(writer, self._topic_reader or self._by_name.get(writer.name), self._reads)


class PlainAvroTopic:
    """A topic of schemaless Avro values, all written with one local writer schema."""

    def __init__(self, writer: AvroSchema, readers: ReaderChoice) -> None:
        self._plan = readers.plan(writer)

    def decode(self, value: bytes) -> DomainRecord:
        return DomainRecord(self._plan.name, read_record(value, 0, self._plan))


class ConfluentTopic:
    """A topic of Confluent-framed values; writer schemas come from the registry, one read plan per schema id."""

    def __init__(self, registry: RegistrySchemas, readers: ReaderChoice) -> None:
        self._registry = registry
        self._readers = readers
        self._plans: dict[int, ReadPlan] = {}

    def decode(self, value: bytes) -> DomainRecord:
        schema_id = read_schema_id(value)
        plan = self._plans.get(schema_id)
        if plan is None:
            plan = self._plans[schema_id] = self._readers.plan(self._registry.get(schema_id))
        return DomainRecord(plan.name, read_record(value, PAYLOAD_OFFSET, plan), schema_id)


class Decoder:
    """Kafka message to ``DomainRecord``. Raises a ``DecodeError`` subclass for bytes that cannot be decoded (the
    pipeline dead-letters them) and ``RegistryUnavailable`` while the registry cannot answer (retry)."""

    def __init__(
        self,
        topics: Mapping[str, TopicDecoder],
        default: TopicDecoder | None = None,
        registry: RegistrySchemas | None = None,
    ) -> None:
        self._topics = dict(topics)
        self._default = default
        self._registry = registry

    @classmethod
    def from_settings(
        cls,
        settings: DecodeSettings,
        resolve_path: Callable[[Path], Path],
        environ: Mapping[str, str] = os.environ,
        *,
        fetch_in_background: bool = False,
        reads: Mapping[str, Collection[str]] | None = None,
    ) -> Decoder:
        """Build the decoder: parse every local schema now (``ConfigError`` names a bad file), and connect to the
        registry lazily (the first message of each schema id fetches it; with ``fetch_in_background``, off the event
        loop, raising ``SchemaFetchPendingError`` meanwhile). ``reads``: per topic, the only field paths whose
        logical values (decimals, timestamps, ...) are converted (the service passes what its routes read); topics
        it does not list, and every topic without it, have all of them converted."""
        registry = (
            RegistrySchemas.from_settings(settings.registry, resolve_path, environ, in_background=fetch_in_background)
            if settings.registry
            else None
        )
        by_name = {
            schema.name: schema for schema in (load_schema_file(resolve_path(p)) for p in settings.reader_schemas)
        }

        def topic_decoder(name: str, topic: TopicSchemaSettings) -> TopicDecoder:
            reader = load_schema_file(resolve_path(topic.reader_schema)) if topic.reader_schema else None
            readers = ReaderChoice(reader, by_name, None if reads is None else reads.get(name))
            if topic.format == "avro" and topic.writer_schema is not None:
                return PlainAvroTopic(load_schema_file(resolve_path(topic.writer_schema)), readers)
            assert registry is not None, "DecodeSettings requires a registry for confluent topics"
            return ConfluentTopic(registry, readers)

        topics = {name: topic_decoder(name, topic) for name, topic in settings.topics.items()}
        if registry is not None:  # topics read through the registry alone, whose read paths are known
            unlisted = {topic: paths for topic, paths in (reads or {}).items() if topic not in topics}
            topics.update(
                (topic, ConfluentTopic(registry, ReaderChoice(None, by_name, paths)))
                for topic, paths in unlisted.items()
            )
        default = ConfluentTopic(registry, ReaderChoice(None, by_name)) if registry else None
        return cls(topics, default, registry)

    def decode(self, message: SourceMessage) -> DomainRecord:
        value = message.value
        if value is None:
            raise TombstoneError("null value (tombstone)")
        decoder = self._topics.get(message.ref.topic, self._default)
        if decoder is None:
            raise ConfigError(f"topic {message.ref.topic} has no schemas.topics entry and no schema registry is set")
        return decoder.decode(value)

    def close(self) -> None:
        """Close the registry client's HTTP session, if any."""
        if self._registry is not None:
            self._registry.close()
