"""The sandbox's request validation: what TikTok rejects with 40002, with a message naming the field."""

from __future__ import annotations

from typing import Any

import pytest

from consumer.sandbox.validate import validate_envelope, validate_events

HEX = "a" * 64


def good_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": "Purchase",
        "event_time": 1_700_000_000,
        "event_id": "order-1",
        "user": {"email": HEX, "phone": [HEX, "B" * 64], "external_id": HEX, "ip": "203.0.113.9"},
        "properties": {"currency": "EUR", "value": 10.5, "contents": [{"content_id": "sku-1", "price": 10.5}]},
    }
    event.update(changes)
    return event


def body(**changes: Any) -> dict[str, Any]:
    envelope: dict[str, Any] = {"event_source": "web", "event_source_id": "C4PIXEL", "data": [good_event()]}
    envelope.update(changes)
    return envelope


def test_valid_request_passes() -> None:
    """A well-formed web request has no error at either level."""
    request = body()
    assert validate_envelope(request) is None
    assert validate_events("web", request["data"]) is None


@pytest.mark.parametrize("source", ["web", "app", "offline", "crm"])
def test_every_documented_event_source_is_accepted(source: str) -> None:
    """web, app, offline and crm are the four event sources."""
    assert validate_envelope(body(event_source=source)) is None


ENVELOPE_ERRORS = [
    (body(event_source="pixel"), "event_source"),
    (body(event_source_id=123), "event_source_id"),
    (body(event_source_id=""), "event_source_id"),
    (body(test_event_code=7), "test_event_code"),
    (body(partner_name=["x"]), "partner_name"),
    (body(data=[]), "data"),
    (body(data={"event": "Purchase"}), "data"),
    (body(data=[good_event()] * 1001), "data: at most 1000 events"),
    ([body()], "not a JSON object"),
]


@pytest.mark.parametrize(("request_body", "named"), ENVELOPE_ERRORS)
def test_envelope_errors_name_the_field(request_body: Any, named: str) -> None:
    """Top-level mistakes are rejected with the field's name in the message."""
    error = validate_envelope(request_body)
    assert error is not None
    assert named in error


def test_exactly_1000_events_are_accepted() -> None:
    """The limit is inclusive."""
    assert validate_envelope(body(data=[good_event()] * 1000)) is None


EVENT_ERRORS = [
    (good_event(event=""), "data[0].event:"),
    (good_event(event_id=12345), "data[0].event_id: not a valid string"),
    (good_event(event_time=1_700_000_000.5), "data[0].event_time"),
    (good_event(event_time="1700000000"), "data[0].event_time"),
    (good_event(event_time=1_700_000_000_000), "data[0].event_time: not a Unix time in seconds"),
    (good_event(event_time=True), "data[0].event_time"),
    (good_event(user={"email": "alice@example.com"}), "data[0].user.email"),
    (good_event(user={"phone": "+12133734253"}), "data[0].user.phone"),
    (good_event(user={"external_id": [HEX, "user_123"]}), "data[0].user.external_id"),
    (good_event(user="x"), "data[0].user"),
    (good_event(properties={"contents": [{"content_id": 42}]}), "data[0].properties.contents[0].content_id"),
    (good_event(properties={"contents": "sku"}), "data[0].properties.contents"),
    ("Purchase", "data[0]"),
]


@pytest.mark.parametrize(("event", "named"), EVENT_ERRORS)
def test_event_errors_name_the_field(event: Any, named: str) -> None:
    """Event-level mistakes name the event's index and the field, like TikTok's 40002 messages."""
    error = validate_events("web", [event])
    assert error is not None
    assert named in error


def test_error_names_the_offending_index() -> None:
    """The first bad event is reported by its position in data."""
    error = validate_events("web", [good_event(), good_event(), good_event(event_id=3)])
    assert error == "Invalid value for data[2].event_id: not a valid string."


def test_crm_requires_lead_id() -> None:
    """For event_source crm, lead.lead_id is required."""
    assert (
        validate_events("crm", [good_event()])
        == "Invalid value for data[0].lead.lead_id: required for event_source crm."
    )
    assert validate_events("crm", [good_event(lead={"lead_id": "L-1"})]) is None


def test_lead_id_is_not_required_for_web() -> None:
    """Only crm needs the lead object."""
    assert validate_events("web", [good_event()]) is None


def test_event_id_may_be_absent() -> None:
    """event_id is recommended, not required (without it there is no deduplication)."""
    event = good_event()
    del event["event_id"]
    assert validate_events("web", [event]) is None


def test_rejected_event_ids_are_refused() -> None:
    """Fault injection can poison chosen event_ids to exercise batch isolation."""
    error = validate_events("web", [good_event(), good_event(event_id="poison")], {"poison"})
    assert error == "Invalid value for data[1].event_id: rejected by the sandbox."
