"""The benchmark workload (bench.workload): realistic reference events, each decodable and uniquely identified."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bench.workload import TOPICS, generate
from consumer.decode.avro import Decoder
from consumer.decode.settings import DecodeSettings, TopicSchemaSettings
from consumer.demo.samples import encode, reference_schema_path
from consumer.model import SourceMessage, SourceRef

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def plain_encoder(schema: str, record: Mapping[str, Any]) -> bytes:
    return encode(schema, record)


def decoder() -> Decoder:
    topics = {
        topic: TopicSchemaSettings(format="avro", writer_schema=reference_schema_path(schema))
        for topic, schema in TOPICS.items()
    }
    return Decoder.from_settings(DecodeSettings(topics=topics), lambda path: path)


def test_events_decode_with_their_topic_schema_and_carry_their_id() -> None:
    """Every generated value decodes with its topic's reference schema and holds the event's own event_id."""
    plain = decoder()
    for offset, event in enumerate(generate(200, plain_encoder, now=NOW)):
        record = plain.decode(SourceMessage(SourceRef(event.topic, 0, offset), event.key, event.value))
        assert record.schema_name == TOPICS[event.topic]
        assert record.value["event_id"] == event.event_id


def test_event_ids_are_unique_across_batches() -> None:
    """Two batches numbered apart never share an event_id (the fault suite accounts by id)."""
    first = {event.event_id for event in generate(300, plain_encoder, now=NOW)}
    second = {event.event_id for event in generate(300, plain_encoder, start=300, now=NOW)}
    assert len(first) == len(second) == 300
    assert not first & second


def test_mix_covers_every_topic_and_denies_some_consent() -> None:
    """A few thousand events reach all four topics and include consent denials, at about 2%."""
    events = list(generate(3000, plain_encoder, now=NOW))
    assert {event.topic for event in events} == set(TOPICS)
    denied = sum(event.denied for event in events)
    assert 20 <= denied <= 100


def test_same_seed_same_events() -> None:
    """Generation is deterministic for a seed and a clock."""
    assert list(generate(50, plain_encoder, now=NOW)) == list(generate(50, plain_encoder, now=NOW))
