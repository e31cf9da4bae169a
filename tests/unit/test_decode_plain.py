"""Plain (schemaless) Avro topics: a local writer schema per topic, optional reader schemas for evolution."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from fastavro import parse_schema, schemaless_writer

from consumer.decode.avro import Decoder
from consumer.decode.errors import SchemaMismatchError
from consumer.decode.settings import DecodeSettings, TopicSchemaSettings
from consumer.demo.samples import encode, reference_schema_path, sample_record
from consumer.errors import ConfigError
from consumer.model import DomainRecord, SourceMessage, SourceRef, Stage

VERSIONS = [
    ("OrderPlaced", 1),
    ("OrderPaid", 1),
    ("OrderPaid", 2),
    ("LeadSubmitted", 1),
    ("LeadStatusChanged", 1),
]


def plain_decoder(writer: Path, reader: Path | None = None, reader_schemas: tuple[Path, ...] = ()) -> Decoder:
    topic = TopicSchemaSettings(format="avro", writer_schema=writer, reader_schema=reader)
    settings = DecodeSettings(topics={"events": topic}, reader_schemas=list(reader_schemas))
    return Decoder.from_settings(settings, lambda path: path)


def decode(decoder: Decoder, value: bytes | None, topic: str = "events") -> DomainRecord:
    return decoder.decode(SourceMessage(ref=SourceRef(topic, 0, 12), key=b"k", value=value))


@pytest.mark.parametrize(("name", "version"), VERSIONS)
def test_round_trip(name: str, version: int) -> None:
    """A sample encoded with a reference schema decodes to the same values, under the writer's full name."""
    record = sample_record(name, version=version)
    decoder = plain_decoder(reference_schema_path(name, version))
    decoded = decode(decoder, encode(name, record, version=version))
    assert decoded == DomainRecord(schema_name=record_name(name), value=record, schema_id=None)


def record_name(short: str) -> str:
    namespace = "com.example.crm" if short.startswith("Lead") else "com.example.commerce"
    return f"{namespace}.{short}"


def test_order_values_are_plain_python() -> None:
    """Decimals, timestamps, arrays, nested records, unions and enums come out as values the mapper can use."""
    value = decode(plain_decoder(reference_schema_path("OrderPaid")), encode("OrderPaid", sample_record("OrderPaid")))
    order: dict[str, Any] = dict(value.value)
    assert order["total"] == Decimal("51.80") and isinstance(order["total"], Decimal)
    assert order["occurred_at"] == datetime(2025, 1, 15, 12, 30, 0, 250_000, tzinfo=UTC)
    assert order["occurred_at"].utcoffset() is not None
    assert order["items"][0]["unit_price"] == Decimal("19.90")
    assert order["context"]["ttclid"] == "E.C.P.sample-ttclid-1001"
    assert order["consent"] == {"marketing": "GRANTED", "analytics": "GRANTED", "limited_data_use": False}
    assert order["predicted_ltv"] == 240.5


def test_lead_values_are_plain_python() -> None:
    """Maps decode to dicts, optional enums to their symbol, optional decimals to Decimal."""
    lead = decode(
        plain_decoder(reference_schema_path("LeadSubmitted")), encode("LeadSubmitted", sample_record("LeadSubmitted"))
    )
    change = decode(
        plain_decoder(reference_schema_path("LeadStatusChanged")),
        encode("LeadStatusChanged", sample_record("LeadStatusChanged")),
    )
    assert lead.value["attributes"] == {"lead_score": "82", "plan": "pro"}
    assert (change.value["stage"], change.value["previous_stage"]) == ("QUALIFIED", "CONTACTED")
    assert change.value["value"] == Decimal("1200.00")


def test_null_union_branches_decode_to_none() -> None:
    """The null branch of an optional field, including an optional record, decodes to None."""
    record = sample_record("LeadStatusChanged", previous_stage=None, value=None, currency=None)
    decoded = decode(plain_decoder(reference_schema_path("LeadStatusChanged")), encode("LeadStatusChanged", record))
    assert decoded.value == record


def test_old_writer_read_with_new_reader_gets_defaults() -> None:
    """OrderPaid v1 bytes resolved to the v2 reader schema carry v2's new fields at their null defaults."""
    decoder = plain_decoder(reference_schema_path("OrderPaid", 1), reader=reference_schema_path("OrderPaid", 2))
    decoded = decode(decoder, encode("OrderPaid", sample_record("OrderPaid", version=1), version=1))
    assert decoded.value == {**sample_record("OrderPaid", version=1), "customer_segment": None, "predicted_ltv": None}


def test_new_writer_read_with_old_reader_drops_new_fields() -> None:
    """OrderPaid v2 bytes resolved to the v1 reader schema lose the fields v1 does not know."""
    decoder = plain_decoder(reference_schema_path("OrderPaid", 2), reader=reference_schema_path("OrderPaid", 1))
    decoded = decode(decoder, encode("OrderPaid", sample_record("OrderPaid")))
    assert decoded.value == sample_record("OrderPaid", version=1)


def test_reader_schema_chosen_by_record_name() -> None:
    """A reader in schemas.reader_schemas applies to any topic whose writer schema has the same full name."""
    decoder = plain_decoder(reference_schema_path("OrderPaid", 1), reader_schemas=(reference_schema_path("OrderPaid"),))
    decoded = decode(decoder, encode("OrderPaid", sample_record("OrderPaid", version=1), version=1))
    assert decoded.value["customer_segment"] is None


def test_unknown_enum_symbol_resolves_to_the_enum_default(tmp_path: Path) -> None:
    """A producer that added a ConsentState symbol still decodes: readers map it to the enum's default, UNKNOWN."""
    schema = json.loads(reference_schema_path("OrderPlaced").read_text())
    consent_state = schema["fields"][-1]["type"]["fields"][0]["type"]
    consent_state["symbols"].append("WITHDRAWN")
    newer = tmp_path / "order_placed.newer.avsc"
    newer.write_text(json.dumps(schema))
    consent = {"marketing": "WITHDRAWN", "analytics": "GRANTED", "limited_data_use": None}
    value = encode_with(newer, sample_record("OrderPlaced", consent=consent))
    decoder = plain_decoder(newer, reader=reference_schema_path("OrderPlaced"))
    assert decode(decoder, value).value["consent"]["marketing"] == "UNKNOWN"


def encode_with(schema_path: Path, record: dict[str, Any]) -> bytes:
    """Plain Avro bytes of ``record`` written with a schema that is not a reference schema."""
    buffer = BytesIO()
    schemaless_writer(buffer, parse_schema(json.loads(schema_path.read_text())), record)
    return buffer.getvalue()


def test_reader_of_another_record_is_a_schema_mismatch() -> None:
    """Bytes whose writer schema cannot resolve to the configured reader dead-letter as decode_schema_mismatch."""
    decoder = plain_decoder(reference_schema_path("OrderPaid"), reader=reference_schema_path("OrderPlaced"))
    with pytest.raises(SchemaMismatchError) as caught:
        decode(decoder, encode("OrderPaid", sample_record("OrderPaid")))
    assert (caught.value.stage, caught.value.reason) == (Stage.DECODE, "decode_schema_mismatch")
    assert "com.example.commerce.OrderPaid" in str(caught.value)


def test_topic_without_settings_and_without_registry_is_a_config_error() -> None:
    """An unlisted topic can only be decoded through a registry; without one it is a configuration fault, never
    a dead-letter."""
    with pytest.raises(ConfigError, match="other-topic"):
        decode(plain_decoder(reference_schema_path("OrderPaid")), b"\x00", topic="other-topic")
