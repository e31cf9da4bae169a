"""Property tests of the guarantees: no raw email or phone ever leaves, denied consent never yields a payload."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import phonenumbers
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from consumer.batching.request import encode_event
from consumer.config import load_config
from consumer.decode.samples import SAMPLE_TIME, sample_record
from consumer.mapping.translator import Translation, Translator
from consumer.model import ConsentWithheld, DomainRecord, OutboundEvent, SourceRef

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "relay.example.yaml"
TRANSLATOR = Translator(load_config(EXAMPLE_CONFIG))
NOW_MS = int(SAMPLE_TIME.timestamp() * 1000) + 60_000
ORDER = "com.example.commerce.OrderPaid"
LEAD = "com.example.crm.LeadSubmitted"

# US numbers in the shapes people type them: international or national, with brackets, dashes, dots or spaces.
phones = st.builds(
    lambda area, exchange, line, shape: shape.format(area=area, exchange=exchange, line=line),
    st.integers(201, 989),
    st.integers(200, 999),
    st.integers(0, 9999).map(lambda n: f"{n:04d}"),
    st.sampled_from(
        [
            "+1 {area} {exchange} {line}",
            "({area}) {exchange}-{line}",
            "{area}.{exchange}.{line}",
            "+1{area}{exchange}{line}",
        ]
    ),
)
consent_states = st.sampled_from(["GRANTED", "DENIED", "UNKNOWN", "granted", "denied", None])


def leaked(body: str, raw: str) -> bool:
    """Whether ``raw`` (or its trimmed, lowercased form) appears in the body."""
    return raw in body or raw.strip().lower() in body.lower()


def translate(schema: str, topic: str, **overrides: Any) -> Translation:
    return TRANSLATOR.translate(
        DomainRecord(schema, sample_record(schema, **overrides)), SourceRef(topic, 0, 0), NOW_MS
    )


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(email=st.emails(), phone=phones)
def test_no_raw_email_or_phone_in_an_order_event(email: str, phone: str) -> None:
    """Whatever the customer's email and phone, the encoded event holds neither, raw or normalised, even when
    the email also sits in the landing URL."""
    base = sample_record("OrderPaid")
    customer = {**base["customer"], "email": email, "phone": phone}
    context = {**base["context"], "page_url": f"https://shop.example.com/?utm=x&email={email}"}
    out = translate(ORDER, "orders.paid", customer=customer, context=context)
    assert isinstance(out, OutboundEvent)
    body = encode_event(out.event).decode()
    e164 = phonenumbers.format_number(phonenumbers.parse(phone, "US"), phonenumbers.PhoneNumberFormat.E164)
    assert not leaked(body, email)
    assert not leaked(body, phone)
    assert e164 not in body


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(email=st.emails(), phone=phones.filter(lambda p: p.startswith("+")), key=st.sampled_from(["contact", "note"]))
def test_no_raw_email_or_phone_through_pass_through_properties(email: str, phone: str, key: str) -> None:
    """Lead attributes that carry an email or an international phone are dropped, never sent in clear."""
    attributes = {"lead_score": "82", key: email, f"{key}_phone": phone}
    out = translate(LEAD, "leads.submitted", attributes=attributes)
    assert isinstance(out, OutboundEvent)
    body = encode_event(out.event).decode()
    assert not leaked(body, email)
    assert not leaked(body, phone)


@given(marketing=consent_states, analytics=consent_states, ldu=st.sampled_from([None, True, False]))
def test_denied_consent_never_yields_a_payload(marketing: str | None, analytics: str | None, ldu: bool | None) -> None:
    """Unless marketing consent is granted, the result is an audit record, never an event to send."""
    consent = {"marketing": marketing, "analytics": analytics, "limited_data_use": ldu}
    out = translate(ORDER, "orders.paid", consent=consent)
    granted = marketing is not None and marketing.upper() == "GRANTED"
    assert isinstance(out, OutboundEvent) == granted
    if not granted:
        assert isinstance(out, ConsentWithheld)


@given(email=st.emails(), phone=phones)
def test_audit_record_holds_no_pii(email: str, phone: str) -> None:
    """A withheld event's audit record carries ids, route, reason and time, and no identifier."""
    base = sample_record("OrderPaid")
    customer = {**base["customer"], "email": email, "phone": phone}
    denied = {"marketing": "DENIED", "analytics": "GRANTED", "limited_data_use": None}
    out = translate(ORDER, "orders.paid", customer=customer, consent=denied)
    assert isinstance(out, ConsentWithheld)
    assert not leaked(repr(out), email) and not leaked(repr(out), phone)
