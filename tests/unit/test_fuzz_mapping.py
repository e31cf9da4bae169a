"""Fuzzing map + policy (the Translator of config/relay.example.yaml) with schema-shaped records of adversarial
values: every record ends as an event TikTok accepts, an audited consent drop, a skip, or a PermanentError that
dead-letters it; nothing else escapes, and nothing the service would send fails TikTok's validation."""

from __future__ import annotations

from datetime import timedelta
from functools import cache
from typing import Any

import orjson
from hypothesis import given
from hypothesis import strategies as st

from consumer.config import load_config
from consumer.deadletter.record import audit_record
from consumer.demo.samples import REFERENCE_SCHEMAS, SAMPLE_TIME, reference_schema
from consumer.mapping.translator import Translator
from consumer.model import ConsentWithheld, DomainRecord, OutboundEvent, PermanentError, SourceRef
from consumer.sandbox.validate import validate_envelope, validate_events
from consumer.sending.body import RequestEncoder, encode_event
from tests.unit.fuzz_strategies import FUZZ, values_of
from tools.kafka_broker import REPO

NOW_MS = int(SAMPLE_TIME.timestamp() * 1000)
TOPICS = {
    "com.example.commerce.OrderPaid": "orders.paid",
    "com.example.commerce.OrderPlaced": "orders.placed",
    "com.example.crm.LeadSubmitted": "leads.submitted",
    "com.example.crm.LeadStatusChanged": "crm.lead-status",
    "com.example.commerce.InAppOrderPaid": "app.orders.paid",
}
GRANTED = {"marketing": "GRANTED", "analytics": "GRANTED", "limited_data_use": None}


@cache
def translator() -> Translator:
    return Translator(load_config(REPO / "config" / "relay.example.yaml").translation)


@st.composite
def records(draw: st.DrawFn) -> DomainRecord:
    """A record of any reference schema. Most are steered past the early exits (consent granted, a time inside
    the event window) so the mapping and identifier code runs; the rest keep their random consent and time."""
    schema = draw(st.sampled_from(sorted(REFERENCE_SCHEMAS)))
    value: dict[str, Any] = draw(values_of(reference_schema(schema).parsed))
    if draw(st.integers(0, 9)):
        value["consent"] = GRANTED
        value["occurred_at"] = SAMPLE_TIME - timedelta(seconds=draw(st.integers(0, 6 * 24 * 3600)))
    return DomainRecord(schema, value)


def assert_accepted_by_tiktok(result: OutboundEvent) -> None:
    body = orjson.loads(RequestEncoder().build(result.destination, [result.ref], [encode_event(result.event)]).body)
    assert validate_envelope(body) is None
    assert validate_events(body["event_source"], body["data"]) is None


@FUZZ
@given(record=records())
def test_any_record_translates_to_a_sendable_event_a_drop_or_a_permanent_error(record: DomainRecord) -> None:
    """Translate returns an event whose request passes the sandbox's TikTok validation, a consent drop whose audit
    record encodes, or a skip of this very record, or raises a PermanentError (dead-lettered); no other exception
    escapes."""
    ref = SourceRef(TOPICS[record.schema_name], 0, 0)
    try:
        result = translator().translate(record, ref, NOW_MS)
    except PermanentError:
        return
    if isinstance(result, ConsentWithheld):
        key, _ = audit_record(result)
        assert key == result.event_id.encode()
    elif isinstance(result, OutboundEvent):
        assert_accepted_by_tiktok(result)
    else:
        assert result.ref == ref
