"""Confluent-framed topics decoded with writer schemas fetched over HTTP from a schema registry (the local double
in tests/registry_double.py, driven by confluent-kafka's own SchemaRegistryClient)."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator, Mapping
from typing import Any

import pytest
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient

from consumer.decode.avro import Decoder
from consumer.decode.errors import (
    MalformedPayloadError,
    RegistryUnavailable,
    SchemaMismatchError,
    UnknownSchemaError,
)
from consumer.decode.settings import DecodeSettings, RegistrySettings, TopicSchemaSettings
from consumer.decode.wire import frame
from consumer.demo.samples import encode, reference_schema_path, sample_record
from consumer.model import DomainRecord, PermanentError, SourceMessage, SourceRef
from tests.oidc_server import TokenServer
from tests.registry_double import RegistryDouble

VERSIONS = [
    ("OrderPlaced", 1, "com.example.commerce.OrderPlaced"),
    ("OrderPaid", 1, "com.example.commerce.OrderPaid"),
    ("OrderPaid", 2, "com.example.commerce.OrderPaid"),
    ("LeadSubmitted", 1, "com.example.crm.LeadSubmitted"),
    ("LeadStatusChanged", 1, "com.example.crm.LeadStatusChanged"),
]


@pytest.fixture
def registry() -> Iterator[RegistryDouble]:
    with RegistryDouble().running() as double:
        yield double


OAUTH: dict[str, str] = {
    "token_url": "set per test",
    "client_id_env": "SR_CLIENT_ID",
    "client_secret_env": "SR_CLIENT_SECRET",
    "scope": "schema_registry",
    "logical_cluster": "lsrc-12345",
}


def registry_decoder(
    url: str,
    topics: Mapping[str, TopicSchemaSettings] | None = None,
    environ: Mapping[str, str] | None = None,
    **options: Any,
) -> Decoder:
    settings = DecodeSettings(
        registry=RegistrySettings(url=url, max_retries=0, **options),
        topics=dict(topics or {"orders": TopicSchemaSettings()}),
    )
    return Decoder.from_settings(settings, lambda path: path, environ or {})


def register(url: str, name: str, version: int | None = None, subject: str = "orders-value") -> int:
    """Register a reference schema the way producers do: POST through SchemaRegistryClient."""
    client = SchemaRegistryClient({"url": url})
    try:
        return client.register_schema(subject, Schema(reference_schema_path(name, version).read_text(), "AVRO"))
    finally:
        client.close()


def decode(decoder: Decoder, value: bytes | None, topic: str = "orders") -> DomainRecord:
    return decoder.decode(SourceMessage(ref=SourceRef(topic, 3, 41), key=b"order-1", value=value))


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.parametrize(("name", "version", "full_name"), VERSIONS)
def test_round_trip_over_http(registry: RegistryDouble, name: str, version: int, full_name: str) -> None:
    """A framed sample decodes to the same values, under the writer's full name and with its schema id."""
    schema_id = register(registry.url, name, version, subject=f"{name}-value")
    record = sample_record(name, version=version)
    decoded = decode(registry_decoder(registry.url), encode(name, record, version=version, schema_id=schema_id))
    assert decoded == DomainRecord(schema_name=full_name, value=record, schema_id=schema_id)


def test_both_writer_versions_decode_to_the_reader_shape(registry: RegistryDouble) -> None:
    """With OrderPaid v2 as the topic's reader, v1 and v2 events both come out in the v2 shape."""
    v1_id, v2_id = register(registry.url, "OrderPaid", 1), register(registry.url, "OrderPaid", 2)
    topics = {"orders": TopicSchemaSettings(reader_schema=reference_schema_path("OrderPaid", 2))}
    decoder = registry_decoder(registry.url, topics)
    old = decode(decoder, encode("OrderPaid", sample_record("OrderPaid", version=1), version=1, schema_id=v1_id))
    new = decode(decoder, encode("OrderPaid", sample_record("OrderPaid"), schema_id=v2_id))
    assert v1_id != v2_id
    assert old.value == {**sample_record("OrderPaid", version=1), "customer_segment": None, "predicted_ltv": None}
    assert new.value == sample_record("OrderPaid")


def test_without_a_reader_each_version_keeps_its_own_shape(registry: RegistryDouble) -> None:
    """Without a reader schema, records come out exactly as their writer version wrote them."""
    v1_id, v2_id = register(registry.url, "OrderPaid", 1), register(registry.url, "OrderPaid", 2)
    decoder = registry_decoder(registry.url)
    old = decode(decoder, encode("OrderPaid", sample_record("OrderPaid", version=1), version=1, schema_id=v1_id))
    new = decode(decoder, encode("OrderPaid", sample_record("OrderPaid"), schema_id=v2_id))
    assert "customer_segment" not in old.value
    assert new.value["customer_segment"] == "returning"


def test_reader_schema_by_record_name_applies_to_registry_topics(registry: RegistryDouble) -> None:
    """schemas.reader_schemas resolves registry records by full name, on topics that are not even listed."""
    v1_id = register(registry.url, "OrderPaid", 1)
    settings = DecodeSettings(
        registry=RegistrySettings(url=registry.url, max_retries=0),
        reader_schemas=[reference_schema_path("OrderPaid", 2)],
    )
    decoder = Decoder.from_settings(settings, lambda path: path, {})
    value = encode("OrderPaid", sample_record("OrderPaid", version=1), version=1, schema_id=v1_id)
    assert decode(decoder, value, topic="unlisted-topic").value["predicted_ltv"] is None


def test_schema_is_fetched_once_per_id(registry: RegistryDouble) -> None:
    """The registry is asked for a schema id once; later messages with that id use the cached, parsed schema."""
    schema_id = register(registry.url, "OrderPlaced")
    decoder = registry_decoder(registry.url)
    for order_id in ("ord-1", "ord-2", "ord-3"):
        decode(decoder, encode("OrderPlaced", sample_record("OrderPlaced", order_id=order_id), schema_id=schema_id))
    assert registry.lookups_of("/schemas/ids/") == 1


def test_unknown_schema_id_is_permanent(registry: RegistryDouble) -> None:
    """The registry answering 404 (error code 40403) means the id does not exist: a decode_unknown_schema error."""
    value = encode("OrderPlaced", sample_record("OrderPlaced"), schema_id=999)
    with pytest.raises(UnknownSchemaError, match=r"schema id 999 \(SR code 40403\)") as caught:
        decode(registry_decoder(registry.url), value)
    assert caught.value.reason == "decode_unknown_schema"


def test_registry_that_is_down_is_transient() -> None:
    """Connection refused is an outage: RegistryUnavailable, a TransientError the caller retries, never a
    dead-letter."""
    value = frame(1, encode("OrderPlaced", sample_record("OrderPlaced")))
    with pytest.raises(RegistryUnavailable) as caught:
        decode(registry_decoder(f"http://127.0.0.1:{unused_port()}"), value)
    assert not isinstance(caught.value, PermanentError)


def test_registry_server_error_is_transient(registry: RegistryDouble) -> None:
    """A 5xx answer is an outage, not an unknown schema."""
    schema_id = register(registry.url, "OrderPlaced")
    registry.fail_with = 503
    with pytest.raises(RegistryUnavailable, match="HTTP 503"):
        decode(registry_decoder(registry.url), encode("OrderPlaced", sample_record("OrderPlaced"), schema_id=schema_id))


def test_registry_timeout_is_transient(registry: RegistryDouble) -> None:
    """A registry slower than the configured timeout is an outage."""
    schema_id = register(registry.url, "OrderPlaced")
    registry.delay_s = 1.0
    value = encode("OrderPlaced", sample_record("OrderPlaced"), schema_id=schema_id)
    with pytest.raises(RegistryUnavailable, match="Timeout"):
        decode(registry_decoder(registry.url, timeout_s=0.1), value)


def test_rejected_credentials_are_transient() -> None:
    """A 401 is a configuration fault to fix, not bad data: the relay stalls instead of dead-lettering traffic."""
    with RegistryDouble(credentials=("relay", "s3cret")).running() as registry:
        schema_id = registry.register("orders-value", reference_schema_path("OrderPlaced").read_text()).schema_id
        value = encode("OrderPlaced", sample_record("OrderPlaced"), schema_id=schema_id)
        with pytest.raises(RegistryUnavailable, match="HTTP 401"):
            decode(registry_decoder(registry.url), value)


def test_decodes_once_the_registry_is_back(registry: RegistryDouble) -> None:
    """An outage is not remembered: the same message decodes when the registry answers again."""
    schema_id = register(registry.url, "OrderPlaced")
    decoder = registry_decoder(registry.url)
    value = encode("OrderPlaced", sample_record("OrderPlaced"), schema_id=schema_id)
    registry.fail_with = 500
    with pytest.raises(RegistryUnavailable):
        decode(decoder, value)
    registry.fail_with = None
    assert decode(decoder, value).schema_id == schema_id


def test_basic_auth_credentials_come_from_the_named_variables() -> None:
    """The file names the environment variables; the client sends their values as HTTP basic auth."""
    with RegistryDouble(credentials=("relay", "s3cret")).running() as registry:
        schema_id = registry.register("orders-value", reference_schema_path("OrderPlaced").read_text()).schema_id
        decoder = registry_decoder(
            registry.url,
            environ={"SR_USER": "relay", "SR_PASSWORD": "s3cret"},
            username_env="SR_USER",
            password_env="SR_PASSWORD",
        )
        value = encode("OrderPlaced", sample_record("OrderPlaced"), schema_id=schema_id)
        assert decode(decoder, value).schema_id == schema_id


def test_non_avro_schema_is_a_schema_mismatch(registry: RegistryDouble) -> None:
    """An id that names a JSON Schema (or Protobuf) schema cannot decode Avro bytes."""
    entry = registry.register("orders-value", '{"type": "object"}', schema_type="JSON")
    with pytest.raises(SchemaMismatchError, match="JSON schema, not Avro"):
        decode(registry_decoder(registry.url), frame(entry.schema_id, b"\x00"))


def test_writer_that_does_not_resolve_to_the_reader_is_a_schema_mismatch(registry: RegistryDouble) -> None:
    """An OrderPaid writer on a topic whose reader is OrderPlaced is decode_schema_mismatch."""
    schema_id = register(registry.url, "OrderPaid")
    topics = {"orders": TopicSchemaSettings(reader_schema=reference_schema_path("OrderPlaced"))}
    with pytest.raises(SchemaMismatchError):
        decode(
            registry_decoder(registry.url, topics), encode("OrderPaid", sample_record("OrderPaid"), schema_id=schema_id)
        )


def test_truncated_body_with_a_known_id_is_malformed(registry: RegistryDouble) -> None:
    """A good header followed by a cut-off body is decode_malformed."""
    schema_id = register(registry.url, "OrderPaid")
    value = encode("OrderPaid", sample_record("OrderPaid"), schema_id=schema_id)
    with pytest.raises(MalformedPayloadError):
        decode(registry_decoder(registry.url), value[:-3])


def split_customer() -> tuple[str, str]:
    """OrderPlaced with its Customer type moved to a schema of its own, as registries with references hold them."""
    order = json.loads(reference_schema_path("OrderPlaced").read_text())
    customer_field = next(field for field in order["fields"] if field["name"] == "customer")
    customer = {**customer_field["type"], "namespace": "com.example.commerce"}
    customer_field["type"] = "com.example.commerce.Customer"
    return json.dumps(customer), json.dumps(order)


def test_schema_references_are_resolved(registry: RegistryDouble) -> None:
    """A writer schema that imports a named type from another subject decodes once the reference is fetched."""
    customer, order = split_customer()
    registry.register("customer", customer)
    reference = {"name": "com.example.commerce.Customer", "subject": "customer", "version": 1}
    entry = registry.register("orders-value", order, references=(reference,))
    record = sample_record("OrderPlaced")
    decoded = decode(registry_decoder(registry.url), encode("OrderPlaced", record, schema_id=entry.schema_id))
    assert decoded.value == record
    assert registry.lookups_of("/subjects/customer/versions/1") == 1


def test_missing_reference_is_an_unknown_schema(registry: RegistryDouble) -> None:
    """A reference to a subject the registry does not have makes the writer schema unknown."""
    _, order = split_customer()
    reference = {"name": "com.example.commerce.Customer", "subject": "customer", "version": 1}
    entry = registry.register("orders-value", order, references=(reference,))
    with pytest.raises(UnknownSchemaError, match="reference customer version 1"):
        decode(registry_decoder(registry.url), frame(entry.schema_id, b""))


def test_oauth_client_credentials_fetch_a_bearer_token_from_the_token_endpoint() -> None:
    """With schemas.registry.oauth, the client gets a token from the (real, local) token endpoint with the client id
    and secret from the named variables, and the registry, which lets in only that bearer token, answers."""
    with TokenServer().running() as tokens, RegistryDouble().running() as registry:
        registry.bearer_token = tokens.token
        schema_id = registry.register("orders-value", reference_schema_path("OrderPlaced").read_text()).schema_id
        decoder = registry_decoder(
            registry.url,
            environ={"SR_CLIENT_ID": "relay-client", "SR_CLIENT_SECRET": "cl1ent-s3cret"},
            oauth={**OAUTH, "token_url": tokens.token_url},
        )
        value = encode("OrderPlaced", sample_record("OrderPlaced"), schema_id=schema_id)
        assert decode(decoder, value).schema_id == schema_id
    assert {(r.client_id, r.client_secret, r.form.get("scope")) for r in tokens.requests} == {
        ("relay-client", "cl1ent-s3cret", "schema_registry")
    }


def test_a_registry_refusing_the_token_is_an_outage_not_bad_data() -> None:
    """A bearer token the registry refuses (HTTP 401) stalls decoding like rejected basic-auth credentials."""
    with TokenServer().running() as tokens, RegistryDouble(bearer_token="another-token").running() as registry:
        schema_id = registry.register("orders-value", reference_schema_path("OrderPlaced").read_text()).schema_id
        decoder = registry_decoder(
            registry.url,
            environ={"SR_CLIENT_ID": "relay-client", "SR_CLIENT_SECRET": "cl1ent-s3cret"},
            oauth={**OAUTH, "token_url": tokens.token_url},
        )
        with pytest.raises(RegistryUnavailable, match="HTTP 401"):
            decode(decoder, encode("OrderPlaced", sample_record("OrderPlaced"), schema_id=schema_id))


def test_oauth_and_basic_auth_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        RegistrySettings(url="http://registry:8081", username_env="U", password_env="P", oauth=OAUTH)
