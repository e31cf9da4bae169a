"""Request bodies: envelope per destination, events encoded once, bookkeeping beside the body."""

from __future__ import annotations

from decimal import Decimal

import orjson
import pytest

from consumer.model import Destination, EventSource, TikTokEvent
from consumer.sending.body import RequestEncoder, encode_event
from consumer.sending.client import parse_response

WEB = Destination(EventSource.WEB, "C4PIXEL")


def event(event_id: str) -> TikTokEvent:
    return TikTokEvent("Purchase", 1_700_000_000, event_id, properties={"value": Decimal("12.50")})


def test_body_has_tiktok_top_level_shape() -> None:
    """event_source, event_source_id and data at the top level; data holds the events in order."""
    request = RequestEncoder().build(WEB, ["r1", "r2"], [encode_event(event("a")), encode_event(event("b"))])
    body = orjson.loads(request.body)
    assert body["event_source"] == "web"
    assert body["event_source_id"] == "C4PIXEL"
    assert [item["event_id"] for item in body["data"]] == ["a", "b"]
    assert request.entries == ["r1", "r2"]


def test_decimal_values_become_json_numbers() -> None:
    """TikTok wants numbers for value and price, not strings."""
    assert orjson.loads(encode_event(event("a")))["properties"]["value"] == 12.5


def test_unencodable_value_raises_type_error() -> None:
    """A value JSON cannot carry is reported, not silently stringified."""
    with pytest.raises(TypeError, match="set"):
        encode_event(TikTokEvent("Purchase", 1, "a", properties={"tags": {"x"}}))


def test_partner_name_and_default_test_event_code_are_top_level() -> None:
    """Both settings go at the top level (not inside events), where TikTok reads them."""
    body = orjson.loads(RequestEncoder("TEST123", "acme").build(WEB, [1], [encode_event(event("a"))]).body)
    assert (body["test_event_code"], body["partner_name"]) == ("TEST123", "acme")
    assert "test_event_code" not in body["data"][0]


def test_destination_test_event_code_wins_over_the_default() -> None:
    """A route's own test_event_code is kept; the setting only fills in when the destination has none."""
    destination = Destination(EventSource.WEB, "C4PIXEL", "ROUTE42")
    body = orjson.loads(RequestEncoder("DEFAULT").build(destination, [1], [encode_event(event("a"))]).body)
    assert body["test_event_code"] == "ROUTE42"


def test_no_optional_fields_when_unset() -> None:
    """Without settings the envelope carries only what TikTok requires."""
    body = orjson.loads(RequestEncoder().build(WEB, [1], [encode_event(event("a"))]).body)
    assert set(body) == {"event_source", "event_source_id", "data"}


def test_response_envelope_is_read() -> None:
    """code, message and request_id come from the body; Retry-After rides along raw."""
    response = parse_response(200, b'{"code":40002,"message":"bad","request_id":"r1","data":{}}', "3")
    assert (response.code, response.message, response.request_id, response.retry_after) == (40002, "bad", "r1", "3")


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"", b"[1]", b'{"code":"0"}'])
def test_response_without_an_integer_code_has_none(body: bytes) -> None:
    """HTML error pages, empty bodies and odd JSON yield no code (the classifier retries them)."""
    assert parse_response(502, body).code is None
