"""Logical types (decimal, timestamps, date, uuid) converted only under the field paths that are read: every value a
route reads comes out exactly as a converting read gives it; values nobody reads are left raw."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer

from consumer.config import RelayConfig, load_config
from consumer.decode.avro import Decoder
from consumer.decode.errors import MalformedPayloadError
from consumer.decode.settings import DecodeSettings, RegistrySettings, TopicSchemaSettings
from consumer.demo.samples import encode, sample_record
from consumer.fields.paths import compile_path
from consumer.mapping.translator import Translator
from consumer.model import DomainRecord, SourceMessage, SourceRef
from tests.registry_double import RegistryDouble
from tests.unit.test_decode_registry import register

EXAMPLE = Path(__file__).resolve().parents[2] / "config" / "relay.example.yaml"
NOW_MS = int(datetime(2025, 1, 15, 13, 0, tzinfo=UTC).timestamp() * 1000)


@pytest.fixture(scope="module")
def example() -> RelayConfig:
    return load_config(EXAMPLE)


def decode(decoder: Decoder, topic: str, value: bytes) -> DomainRecord:
    return decoder.decode(SourceMessage(SourceRef(topic, 0, 3), b"k", value))


EXAMPLE_RECORDS = [
    ("orders.paid", "OrderPaid", {}),
    ("orders.paid", "OrderPaid", {"event_id": None}),
    ("orders.placed", "OrderPlaced", {}),
    ("leads.submitted", "LeadSubmitted", {}),
    ("crm.lead-status", "LeadStatusChanged", {}),
    ("crm.lead-status", "LeadStatusChanged", {"stage": "CONVERTED"}),
    ("crm.lead-status", "LeadStatusChanged", {"stage": "CONTACTED"}),
    ("app.orders.paid", "InAppOrderPaid", {}),
]


@pytest.mark.parametrize(("topic", "schema", "overrides"), EXAMPLE_RECORDS)
def test_routes_translate_records_read_with_their_paths_as_fully_converted_ones(
    example: RelayConfig, topic: str, schema: str, overrides: dict[str, Any]
) -> None:
    """The example routes map a record decoded with ``reads=translator.field_paths`` exactly as one whose every
    logical value was converted, and every value under a read path is equal and of the same type."""
    translator = Translator(example.translation)
    partial = Decoder.from_settings(example.schemas, example.resolve_path, reads=translator.field_paths)
    full = Decoder.from_settings(example.schemas, example.resolve_path)
    value = encode(schema, sample_record(schema, **overrides))
    ref = SourceRef(topic, 0, 3)
    read, converted = decode(partial, topic, value), decode(full, topic, value)
    assert translator.translate(read, ref, NOW_MS) == translator.translate(converted, ref, NOW_MS)
    for path in translator.field_paths[topic]:
        get = compile_path(path)
        assert type(get(read.value)) is type(get(converted.value)) and get(read.value) == get(converted.value), path


def test_field_paths_name_what_routes_and_skip_rules_read(example: RelayConfig) -> None:
    """Per topic: the routes' event time, amounts, line items and identifiers, and the skip rules' match fields."""
    paths = Translator(example.translation).field_paths
    assert {"occurred_at", "total", "items", "customer.email", "context.page_url", "store"} <= paths["orders.paid"]
    assert {"stage", "value", "occurred_at"} <= paths["crm.lead-status"]
    assert "predicted_ltv" not in paths["orders.placed"]


def test_logical_values_no_path_reads_stay_raw(example: RelayConfig) -> None:
    """A decoder told that only ``occurred_at`` is read converts that timestamp and leaves the decimals as bytes."""
    decoder = Decoder.from_settings(example.schemas, example.resolve_path, reads={"orders.paid": {"occurred_at"}})
    record = decode(decoder, "orders.paid", encode("OrderPaid", sample_record("OrderPaid"))).value
    assert record["occurred_at"] == sample_record("OrderPaid")["occurred_at"]
    assert isinstance(record["total"], bytes) and isinstance(record["items"][0]["unit_price"], bytes)


def test_topics_without_read_paths_convert_everything(example: RelayConfig) -> None:
    """A topic ``reads`` does not list decodes as it always did."""
    decoder = Decoder.from_settings(example.schemas, example.resolve_path, reads={"orders.placed": set()})
    record = decode(decoder, "orders.paid", encode("OrderPaid", sample_record("OrderPaid")))
    assert record.value == sample_record("OrderPaid")


SHAPES: dict[str, Any] = {
    "type": "record",
    "name": "Shapes",
    "namespace": "test",
    "fields": [
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-micros"}},
        {"name": "day", "type": ["null", {"type": "int", "logicalType": "date"}]},
        {"name": "id", "type": {"type": "string", "logicalType": "uuid"}},
        {
            "name": "money",
            "type": {
                "type": "fixed",
                "name": "Money",
                "size": 8,
                "logicalType": "decimal",
                "precision": 18,
                "scale": 4,
            },
        },
        {"name": "refund", "type": ["null", "Money"]},
        {
            "name": "buyer",
            "type": [
                "null",
                {
                    "type": "record",
                    "name": "Buyer",
                    "fields": [
                        {"name": "since", "type": {"type": "long", "logicalType": "timestamp-millis"}},
                        {
                            "name": "credit",
                            "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2},
                        },
                    ],
                },
            ],
        },
        {"name": "history", "type": {"type": "array", "items": "Buyer"}},
        {
            "name": "prices",
            "type": {"type": "map", "values": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 3}},
        },
        {"name": "local", "type": {"type": "long", "logicalType": "local-timestamp-millis"}},
        {"name": "odd", "type": {"type": "string", "logicalType": "not-a-known-type"}},
    ],
}
BUYER = {"since": datetime(2024, 2, 29, 8, 0, 0, 123_000, tzinfo=UTC), "credit": Decimal("-12.50")}
SHAPES_RECORD: dict[str, Any] = {
    "at": datetime(2025, 1, 15, 12, 30, 0, 250_001, tzinfo=UTC),
    "day": date(2025, 1, 15),
    "id": uuid.UUID("6d92078a-8246-4ba4-ae5b-76104861e7dc"),
    "money": Decimal("12345.6789"),
    "refund": Decimal("-0.0001"),
    "buyer": BUYER,
    "history": [BUYER, {"since": datetime(2020, 1, 1, tzinfo=UTC), "credit": Decimal("0.00")}],
    "prices": {"a": Decimal("1.250"), "b": Decimal("0.001")},
    "local": datetime(2025, 1, 15, 12, 30),
    "odd": "as written",
}


def shapes_decoder(tmp_path: Path, schema: dict[str, Any], reads: set[str] | None) -> Decoder:
    path = tmp_path / "shapes.avsc"
    path.write_text(json.dumps(schema))
    settings = DecodeSettings(topics={"shapes": TopicSchemaSettings(format="avro", writer_schema=path)})
    return Decoder.from_settings(settings, lambda p: p, reads=None if reads is None else {"shapes": reads})


def written(schema: dict[str, Any], record: dict[str, Any]) -> bytes:
    buffer = BytesIO()
    schemaless_writer(buffer, parse_schema(schema), record)
    return buffer.getvalue()


PATHS = [
    "at",
    "day",
    "id",
    "money",
    "refund",
    "buyer",
    "buyer.credit",
    "history",
    "history.1.since",
    "history.5.since",
    "prices",
    "prices.a",
    "local",
    "odd",
    "buyer.missing",
]


@pytest.mark.parametrize("path", PATHS)
def test_each_kind_of_path_reads_the_converted_value(tmp_path: Path, path: str) -> None:
    """Through nullable unions, named types, array indexes and map keys, whole records, arrays and maps: the value
    under a read path equals the converting read's, type included."""
    full = decode(shapes_decoder(tmp_path, SHAPES, None), "shapes", written(SHAPES, SHAPES_RECORD)).value
    read = decode(shapes_decoder(tmp_path, SHAPES, {path}), "shapes", written(SHAPES, SHAPES_RECORD)).value
    get = compile_path(path)
    assert get(read) == get(full) and type(get(read)) is type(get(full))


def test_a_path_and_one_below_it_convert_once(tmp_path: Path) -> None:
    """``history`` and ``history.0.since`` read together: each timestamp converted exactly once."""
    reads = {"history.0.since", "history", "buyer.credit", "buyer"}
    read = decode(shapes_decoder(tmp_path, SHAPES, reads), "shapes", written(SHAPES, SHAPES_RECORD)).value
    assert read["history"] == SHAPES_RECORD["history"] and read["buyer"] == BUYER


def test_null_values_under_read_paths_stay_null(tmp_path: Path) -> None:
    """An absent optional record or date is read as None, not converted."""
    record = {**SHAPES_RECORD, "day": None, "refund": None, "buyer": None}
    read = decode(
        shapes_decoder(tmp_path, SHAPES, {"day", "refund", "buyer.credit"}), "shapes", written(SHAPES, record)
    )
    assert (read.value["day"], read.value["refund"], read.value["buyer"]) == (None, None, None)


AMBIGUOUS: dict[str, Any] = {
    "type": "record",
    "name": "Ambiguous",
    "fields": [
        {"name": "when", "type": ["null", {"type": "long", "logicalType": "timestamp-millis"}, "long"]},
        {"name": "total", "type": {"type": "bytes", "logicalType": "decimal", "precision": 9, "scale": 2}},
    ],
}
RECURSIVE: dict[str, Any] = {
    "type": "record",
    "name": "Node",
    "fields": [
        {"name": "at", "type": {"type": "long", "logicalType": "timestamp-millis"}},
        {"name": "next", "type": ["null", "Node"]},
    ],
}


@pytest.mark.parametrize(
    ("schema", "record", "reads"),
    [
        (AMBIGUOUS, {"when": datetime(2025, 1, 1, tzinfo=UTC), "total": Decimal("1.00")}, {"when"}),
        (
            RECURSIVE,
            {"at": datetime(2025, 1, 1, tzinfo=UTC), "next": {"at": datetime(2024, 1, 1, tzinfo=UTC), "next": None}},
            {"next"},
        ),
    ],
)
def test_schemas_whose_raw_values_are_ambiguous_convert_everything(
    tmp_path: Path, schema: dict[str, Any], record: dict[str, Any], reads: set[str]
) -> None:
    """A union of a timestamp and a plain long, or a type that contains itself: read with logical types, whole."""
    assert decode(shapes_decoder(tmp_path, schema, reads), "shapes", written(schema, record)).value == record


def test_a_read_value_that_cannot_convert_is_malformed(tmp_path: Path) -> None:
    """A date beyond the calendar under a read path is a malformed payload, as in a converting read."""
    schema = {"type": "record", "name": "Dated", "fields": [{"name": "day", "type": "int"}]}
    dated = {**schema, "fields": [{"name": "day", "type": {"type": "int", "logicalType": "date"}}]}
    value = written(schema, {"day": 2**31 - 1})
    with pytest.raises(MalformedPayloadError):
        decode(shapes_decoder(tmp_path, dated, {"day"}), "shapes", value)


def test_registry_topics_get_their_read_paths() -> None:
    """A topic decoded through the registry alone (no schemas.topics entry) converts only its read paths too."""
    with RegistryDouble().running() as registry:
        schema_id = register(registry.url, "OrderPaid", subject="orders.paid-value")
        settings = DecodeSettings(registry=RegistrySettings(url=registry.url, max_retries=0))
        decoder = Decoder.from_settings(settings, lambda p: p, {}, reads={"orders.paid": {"occurred_at"}})
        value = encode("OrderPaid", sample_record("OrderPaid"), schema_id=schema_id)
        record = decode(decoder, "orders.paid", value)
        decoder.close()
    assert record.value["occurred_at"] == sample_record("OrderPaid")["occurred_at"]
    assert isinstance(record.value["total"], bytes)
