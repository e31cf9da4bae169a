"""Sample events of the reference schemas, for tests, benchmarks and the demo.

``sample_record("OrderPaid")`` is a realistic record in exactly the shape the decoder returns (``Decimal`` amounts,
an aware ``datetime``, enum symbols as ``str``, every optional field present); keyword overrides replace top-level
fields. ``encode`` turns a record into Kafka value bytes: Confluent-framed when given a schema id, else plain Avro.
Names may be full (``com.example.commerce.OrderPaid``) or short (``OrderPaid``); ``version`` picks an older
version of a schema (default: the latest). The personal data is fictitious (example.com, a 555 number, TEST-NET IP).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from fastavro import schemaless_writer

from consumer.decode.schemas import AvroSchema, load_schema_file
from consumer.decode.wire import frame

REFERENCE_SCHEMAS: Mapping[str, tuple[str, ...]] = {
    "com.example.commerce.OrderPlaced": ("order_placed.avsc",),
    "com.example.commerce.OrderPaid": ("order_paid.v1.avsc", "order_paid.v2.avsc"),
    "com.example.crm.LeadSubmitted": ("lead_submitted.avsc",),
    "com.example.crm.LeadStatusChanged": ("lead_status_changed.avsc",),
    "com.example.commerce.InAppOrderPaid": ("in_app_order_paid.avsc",),
}
"""The reference schemas' files by full name, version 1 first."""

CONSENT_DECISION_SCHEMA = "consent_decision.avsc"
"""The consent topic's schema (``consumer.consent_table``): a table of decisions, not a domain event a route maps."""

SAMPLE_TIME = datetime(2025, 1, 15, 12, 30, 0, 250_000, tzinfo=UTC)
"""``occurred_at`` of every sample: fixed so tests are deterministic; override it for live sends."""

_CUSTOMER = {
    "customer_id": "cust-1001",
    "email": "Jane.Doe@Example.com",
    "phone": "+1 415-555-0132",
    "first_name": "Jane",
    "last_name": "Doe",
    "city": "San Francisco",
    "region": "CA",
    "postal_code": "94107",
    "country": "US",
}
_CONTEXT = {
    "ip": "203.0.113.7",
    "user_agent": "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
    "ttclid": "E.C.P.sample-ttclid-1001",
    "ttp": "sample-ttp-cookie-1001",
    "page_url": "https://shop.example.com/checkout/thank-you",
    "referrer": "https://www.tiktok.com/",
    "locale": "en-US",
}
_CONSENT = {"marketing": "GRANTED", "analytics": "GRANTED", "limited_data_use": False}
_ITEMS: list[dict[str, Any]] = [
    {
        "sku": "SKU-TEE-01",
        "name": "Logo T-shirt",
        "category": "apparel",
        "brand": "Example",
        "quantity": 2,
        "unit_price": Decimal("19.90"),
    },
    {
        "sku": "SKU-MUG-02",
        "name": "Mug",
        "category": "home",
        "brand": None,
        "quantity": 1,
        "unit_price": Decimal("12.00"),
    },
]
_APP_ITEM_FIELDS = ("sku", "name", "quantity", "unit_price")
_ORDER = {
    "occurred_at": SAMPLE_TIME,
    "order_id": "ord-1001",
    "store": "main",
    "currency": "USD",
    "total": Decimal("51.80"),
    "items": _ITEMS,
    "customer": _CUSTOMER,
    "context": _CONTEXT,
    "consent": _CONSENT,
}
_SAMPLES: Mapping[str, Mapping[str, Any]] = {
    "com.example.commerce.OrderPlaced": {"event_id": "evt-placed-1001", **_ORDER},
    # The superset of every version: an older version's sample keeps only the fields its schema has.
    "com.example.commerce.OrderPaid": {
        "event_id": "evt-paid-1001",
        **_ORDER,
        "customer_segment": "returning",
        "predicted_ltv": 240.5,
    },
    "com.example.crm.LeadSubmitted": {
        "event_id": "evt-lead-2001",
        "occurred_at": SAMPLE_TIME,
        "lead_id": "lead-2001",
        "form_id": "demo-request",
        "store": "main",
        "customer": {**_CUSTOMER, "customer_id": None, "city": None, "region": None, "postal_code": None},
        "context": {**_CONTEXT, "page_url": "https://shop.example.com/demo"},
        "consent": _CONSENT,
        "attributes": {"lead_score": "82", "plan": "pro"},
    },
    "com.example.crm.LeadStatusChanged": {
        "event_id": None,
        "occurred_at": SAMPLE_TIME,
        "lead_id": "lead-2001",
        "stage": "QUALIFIED",
        "previous_stage": "CONTACTED",
        "store": "main",
        "customer": {**_CUSTOMER, "customer_id": "crm-contact-77"},
        "consent": _CONSENT,
        "value": Decimal("1200.00"),
        "currency": "USD",
    },
    "com.example.commerce.InAppOrderPaid": {
        "event_id": "evt-app-3001",
        "occurred_at": SAMPLE_TIME,
        "order_id": "ord-3001",
        "currency": "USD",
        "total": Decimal("51.80"),
        "items": [{key: item[key] for key in _APP_ITEM_FIELDS} for item in _ITEMS],
        "customer": {key: _CUSTOMER[key] for key in ("customer_id", "email", "phone")},
        "device": {
            "platform": "IOS",
            "idfa": "6D92078A-8246-4BA4-AE5B-76104861E7DC",
            "idfv": "B6C2E5F1-3A4D-4E8B-9C7F-0D1E2F3A4B5C",
            "gaid": None,
            "att_status": "AUTHORIZED",
            "ip": "203.0.113.7",
            "user_agent": "ExampleShop/5.2.0 (iPhone; iOS 17.5; Scale/3.00)",
            "locale": "en-US",
        },
        "app": {"app_id": "id6448311069", "app_name": "Example Shop", "app_version": "5.2.0"},
        "attribution": {"callback": "E.C.P.sample-callback-3001"},
        "consent": _CONSENT,
    },
}


@cache
def reference_schema_dir() -> Path:
    """The repository's ``schemas/``, where the reference ``.avsc`` files are (samples serve the tests, the demo
    and the benchmarks, which run from a checkout)."""
    return Path(__file__).resolve().parents[2] / "schemas"


def full_name(schema_name: str) -> str:
    """The full name of a reference schema given by full or short name; ``KeyError`` lists the known names."""
    for name in REFERENCE_SCHEMAS:
        if schema_name in (name, name.rpartition(".")[2]):
            return name
    raise KeyError(f"{schema_name!r} is not a reference schema: one of {', '.join(REFERENCE_SCHEMAS)}")


def reference_schema_path(schema_name: str, version: int | None = None) -> Path:
    """The ``.avsc`` file of a reference schema version (default: the latest)."""
    files = REFERENCE_SCHEMAS[full_name(schema_name)]
    if version is not None and not 1 <= version <= len(files):
        raise KeyError(f"{schema_name} has versions 1..{len(files)}, not {version}")
    return reference_schema_dir() / files[(version or len(files)) - 1]


def reference_schema(schema_name: str, version: int | None = None) -> AvroSchema:
    """The parsed reference schema (parsed once per file)."""
    return load_schema_file(reference_schema_path(schema_name, version))


def sample_record(schema_name: str, /, *, version: int | None = None, **overrides: Any) -> dict[str, Any]:
    """A fresh sample record of a reference schema version, with top-level fields replaced by ``overrides``
    (e.g. ``consent={"marketing": "DENIED", ...}``, ``event_id=None``); an unknown field is a ``KeyError``."""
    fields = [field["name"] for field in reference_schema(schema_name, version).parsed["fields"]]
    unknown = set(overrides) - set(fields)
    if unknown:
        raise KeyError(f"{schema_name} has no field {', '.join(sorted(unknown))}")
    sample = _SAMPLES[full_name(schema_name)]
    return {name: copy.deepcopy(overrides[name] if name in overrides else sample[name]) for name in fields}


def encode(
    schema_name: str, record: Mapping[str, Any], *, version: int | None = None, schema_id: int | None = None
) -> bytes:
    """``record`` as Kafka value bytes of a reference schema version: Confluent-framed with ``schema_id`` when one
    is given, else plain schemaless Avro."""
    buffer = BytesIO()
    schemaless_writer(buffer, reference_schema(schema_name, version).parsed, dict(record))
    payload = buffer.getvalue()
    return payload if schema_id is None else frame(schema_id, payload)


def encode_consent_decision(purposes: Mapping[str, str], decided_at: datetime, reference: str | None = None) -> bytes:
    """A consent topic value (plain Avro of ``schemas/consent_decision.avsc``): ``purposes`` maps a purpose to
    ``GRANTED`` or ``DENIED``."""
    buffer = BytesIO()
    schema = load_schema_file(reference_schema_dir() / CONSENT_DECISION_SCHEMA)
    record = {"purposes": dict(purposes), "decided_at": decided_at, "reference": reference}
    schemaless_writer(buffer, schema.parsed, record)
    return buffer.getvalue()
