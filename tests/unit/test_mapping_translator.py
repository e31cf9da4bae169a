"""Translator: route selection, lookup tables, event ids, typing rules, consent, minimisation, the time window."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from consumer.config import RelayConfig, load_config, parse_config
from consumer.demo.samples import SAMPLE_TIME, sample_record
from consumer.errors import ConfigError, MappingError
from consumer.mapping.errors import NoDestinationError, NoRouteError
from consumer.mapping.translator import Translator
from consumer.model import ConsentWithheld, DomainRecord, EventSource, OutboundEvent, Skipped, SourceRef, Stage
from consumer.observability.metrics import REGISTRY
from consumer.policy.errors import EventTooOldError, EventValidationError

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "relay.example.yaml"
NOW_MS = int(SAMPLE_TIME.timestamp() * 1000) + 60_000
TOPICS = {
    "OrderPaid": "orders.paid",
    "OrderPlaced": "orders.placed",
    "LeadSubmitted": "leads.submitted",
    "LeadStatusChanged": "crm.lead-status",
}
FULL_NAMES = {
    "OrderPaid": "com.example.commerce.OrderPaid",
    "OrderPlaced": "com.example.commerce.OrderPlaced",
    "LeadSubmitted": "com.example.crm.LeadSubmitted",
    "LeadStatusChanged": "com.example.crm.LeadStatusChanged",
}


@pytest.fixture(scope="module")
def example() -> RelayConfig:
    return load_config(EXAMPLE_CONFIG)


@pytest.fixture(scope="module")
def translator(example: RelayConfig) -> Translator:
    return Translator(example.translation)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def record(schema: str, /, **overrides: Any) -> DomainRecord:
    return DomainRecord(FULL_NAMES[schema], sample_record(schema, **overrides))


def ref(schema: str, offset: int = 7) -> SourceRef:
    return SourceRef(TOPICS[schema], 0, offset)


def sent(translator: Translator, schema: str, /, **overrides: Any) -> OutboundEvent:
    result = translator.translate(record(schema, **overrides), ref(schema), NOW_MS)
    assert isinstance(result, OutboundEvent)
    return result


def customer(**fields: Any) -> dict[str, Any]:
    return {**sample_record("OrderPaid")["customer"], **fields}


def context(**fields: Any) -> dict[str, Any]:
    return {**sample_record("OrderPaid")["context"], **fields}


def dropped_count(route: str, identifier: str, cause: str) -> float:
    labels = {"route": route, "identifier": identifier, "cause": cause}
    return REGISTRY.get_sample_value("tiktok_relay_identifiers_dropped_total", labels) or 0.0


@pytest.mark.parametrize(
    ("schema", "overrides", "expected"),
    [
        ("OrderPaid", {}, ("order-paid", "Purchase", EventSource.WEB)),
        ("OrderPlaced", {}, ("order-placed", "PlaceAnOrder", EventSource.WEB)),
        ("LeadSubmitted", {}, ("lead-submitted", "Lead", EventSource.WEB)),
        ("LeadStatusChanged", {"stage": "QUALIFIED"}, ("lead-qualified", "Lead", EventSource.CRM)),
        ("LeadStatusChanged", {"stage": "CONVERTED"}, ("lead-converted", "Purchase", EventSource.CRM)),
    ],
)
def test_reference_records_take_their_routes(
    translator: Translator, schema: str, overrides: dict[str, Any], expected: tuple[str, str, EventSource]
) -> None:
    """Each reference schema (and each CRM stage of interest) is selected by its reference route."""
    out = sent(translator, schema, **overrides)
    assert (out.route, out.event.event, out.destination.event_source) == expected


def test_bookkeeping_rides_beside_the_event(translator: Translator) -> None:
    """The source reference is carried unchanged, so settlement can find the message."""
    assert sent(translator, "OrderPaid").ref == ref("OrderPaid")


def test_identifiers_are_normalised_and_hashed(translator: Translator) -> None:
    """Email and phone leave only as digests of their normalised forms; the national phone gets +1 (region US)."""
    user = sent(translator, "OrderPaid").event.user
    assert user.email == (sha("jane.doe@example.com"),)
    assert user.phone == (sha("+14155550132"),)
    assert user.external_id == (sha("cust-1001"),)
    assert (user.first_name, user.last_name, user.zip_code) == (sha("jane"), sha("doe"), sha("94107"))


def test_location_fields_are_sent_plain(translator: Translator) -> None:
    """City, state and country are sent unhashed, lowercased."""
    user = sent(translator, "OrderPaid").event.user
    assert (user.city, user.state, user.country) == ("san francisco", "ca", "us")


def test_event_time_is_unix_seconds(translator: Translator) -> None:
    """An aware datetime becomes integer Unix seconds."""
    assert sent(translator, "OrderPaid").event.event_time == int(SAMPLE_TIME.timestamp())


def test_record_event_id_is_used(translator: Translator) -> None:
    """The event id shared with the Pixel is sent as is, and marked as the record's."""
    out = sent(translator, "OrderPaid")
    assert (out.event.event_id, out.event_id_origin) == ("evt-paid-1001", "record")


def test_missing_event_id_is_derived_deterministically(translator: Translator) -> None:
    """Without an event id, one is derived from store + order_id + event name: the same on every replay."""
    first = sent(translator, "OrderPaid", event_id=None)
    replay = sent(translator, "OrderPaid", event_id=None)
    assert first.event_id_origin == "derived"
    assert first.event.event_id == replay.event.event_id
    assert len(first.event.event_id) == 64


def test_derived_event_id_differs_per_order(translator: Translator) -> None:
    """Two orders never share a derived id."""
    one = sent(translator, "OrderPaid", event_id=None)
    other = sent(translator, "OrderPaid", event_id=None, order_id="ord-1002")
    assert one.event.event_id != other.event.event_id


def test_decimals_become_numbers_and_ids_strings(translator: Translator) -> None:
    """value and price are JSON numbers (Decimal -> float or int), quantity an int, content_id a string."""
    properties = sent(translator, "OrderPaid").event.properties
    assert properties["value"] == 51.8 and isinstance(properties["value"], float)
    assert properties["contents"][1]["price"] == 12 and isinstance(properties["contents"][1]["price"], int)
    assert properties["contents"][0]["quantity"] == 2
    assert properties["contents"][0]["content_id"] == "SKU-TEE-01"


def test_null_line_item_fields_are_left_out(translator: Translator) -> None:
    """A null brand is omitted from its content entry, not sent as null."""
    assert "brand" not in sent(translator, "OrderPaid").event.properties["contents"][1]


def test_enrichment_passes_through_to_properties(translator: Translator) -> None:
    """OrderPaid v2's predicted_ltv and customer_segment reach properties as mapped."""
    properties = sent(translator, "OrderPaid").event.properties
    assert (properties["predicted_ltv"], properties["customer_segment"]) == (240.5, "returning")


def test_older_schema_version_without_enrichment_maps(translator: Translator) -> None:
    """OrderPaid v1 has no enrichment fields: the mapped keys are simply absent."""
    v1 = DomainRecord(FULL_NAMES["OrderPaid"], sample_record("OrderPaid", version=1))
    out = translator.translate(v1, ref("OrderPaid"), NOW_MS)
    assert isinstance(out, OutboundEvent) and "predicted_ltv" not in out.event.properties


def test_lead_attributes_pass_through(translator: Translator) -> None:
    """properties_from spreads a map field (LeadSubmitted.attributes) into properties."""
    properties = sent(translator, "LeadSubmitted").event.properties
    assert properties == {"lead_score": "82", "plan": "pro", "form_id": "demo-request"}


def test_lookup_table_routes_to_the_stores_pixel(translator: Translator) -> None:
    """event_source_id is looked up from the store field."""
    assert sent(translator, "OrderPaid", store="outlet").destination.event_source_id == "CEXAMPLEPIXELOUTLET1"


def test_lookup_table_default_applies_to_unknown_keys(translator: Translator) -> None:
    """A key missing from the table takes the lookup's default when it has one."""
    assert sent(translator, "LeadSubmitted", store="popup").destination.event_source_id == "CEXAMPLEPIXELMAIN001"


def test_unknown_lookup_key_without_default_is_no_destination(translator: Translator) -> None:
    """A key missing from a table without default fails as no_destination (stage map), naming the route."""
    with pytest.raises(NoDestinationError) as caught:
        translator.translate(record("OrderPaid", store="popup"), ref("OrderPaid"), NOW_MS)
    assert (caught.value.stage, caught.value.reason, caught.value.route) == (Stage.MAP, "no_destination", "order-paid")


def test_record_neither_a_route_nor_a_skip_rule_takes_is_no_route(translator: Translator) -> None:
    """A record type no route of its topic selects, and no skip rule names, fails as no_route."""
    with pytest.raises(NoRouteError) as caught:
        translator.translate(record("LeadSubmitted"), ref("LeadStatusChanged"), NOW_MS)
    assert (caught.value.stage, caught.value.reason, caught.value.route) == (Stage.MAP, "no_route", None)


def test_skip_rule_takes_a_stage_no_route_reports(translator: Translator) -> None:
    """The reference skip rule takes CRM stages no route reports (LOST): skipped, not dead-lettered."""
    out = translator.translate(record("LeadStatusChanged", stage="LOST"), ref("LeadStatusChanged"), NOW_MS)
    assert out == Skipped(ref("LeadStatusChanged"), "lead-stage-not-reported")


def test_a_route_wins_over_a_skip_rule() -> None:
    """Skip rules are consulted only when no route selects the record, so a routed record is still sent."""
    config = route_config({}, skip=[{"name": "everything", "topic": "orders.paid"}])
    out = Translator(config.translation).translate(record("OrderPaid"), ref("OrderPaid"), NOW_MS)
    assert isinstance(out, OutboundEvent)


def test_skip_rule_errors_name_the_key() -> None:
    """A skip rule is validated like a route: unknown keys are refused with their path."""
    with pytest.raises(ConfigError, match=r"skip\.0\.events"):
        route_config({}, skip=[{"name": "x", "topic": "orders.paid", "events": ["a"]}])


def test_unknown_topic_is_no_route(translator: Translator) -> None:
    """A record from a topic no route reads fails as no_route."""
    with pytest.raises(NoRouteError):
        translator.translate(record("OrderPaid"), SourceRef("payments", 0, 1), NOW_MS)


def test_schema_name_selects_among_record_types(translator: Translator) -> None:
    """On a topic whose routes name a schema, a record of another schema is not taken."""
    wrong_type = DomainRecord(FULL_NAMES["OrderPlaced"], sample_record("OrderPlaced"))
    with pytest.raises(NoRouteError):
        translator.translate(wrong_type, ref("OrderPaid"), NOW_MS)


def test_short_schema_name_matches() -> None:
    """A match on the schema's name without namespace selects records of any namespace with that name."""
    config = route_config({"match": {"schema": "OrderPaid"}})
    out = Translator(config.translation).translate(record("OrderPaid"), ref("OrderPaid"), NOW_MS)
    assert isinstance(out, OutboundEvent)


def test_denied_consent_yields_an_audit_record(translator: Translator) -> None:
    """Denied marketing consent: no event, but a ConsentWithheld with the event id, route, reason and time."""
    denied = {"marketing": "DENIED", "analytics": "GRANTED", "limited_data_use": None}
    out = translator.translate(record("OrderPaid", consent=denied), ref("OrderPaid"), NOW_MS)
    assert out == ConsentWithheld(ref("OrderPaid"), "order-paid", "Purchase", "evt-paid-1001", "consent_denied", NOW_MS)


def test_unknown_consent_is_withheld_by_default(translator: Translator) -> None:
    """UNKNOWN consent follows policy.unknown_consent, deny by default."""
    unknown = {"marketing": "UNKNOWN", "analytics": "GRANTED", "limited_data_use": None}
    out = translator.translate(record("OrderPaid", consent=unknown), ref("OrderPaid"), NOW_MS)
    assert isinstance(out, ConsentWithheld) and out.reason == "consent_unknown"


def test_consent_is_decided_before_the_time_window(translator: Translator) -> None:
    """A withheld event is audited even when it is also too old: consent is the first decision."""
    denied = {"marketing": "DENIED", "analytics": "GRANTED", "limited_data_use": None}
    out = translator.translate(record("OrderPaid", consent=denied), ref("OrderPaid"), NOW_MS + 30 * 86_400_000)
    assert isinstance(out, ConsentWithheld)


def test_old_event_is_rejected_with_its_route(translator: Translator) -> None:
    """An event older than the window raises event_too_old carrying the route name for the dead-letter record."""
    with pytest.raises(EventTooOldError) as caught:
        translator.translate(record("OrderPaid"), ref("OrderPaid"), NOW_MS + 8 * 86_400_000)
    assert caught.value.route == "order-paid"


def test_ttclid_is_read_from_the_landing_url(translator: Translator) -> None:
    """Without a ttclid field, the click id comes from the ttclid query parameter of the page URL."""
    landing = context(ttclid=None, page_url="https://shop.example.com/p?utm_source=tt&ttclid=E.C.P.abc123&x=1")
    assert sent(translator, "OrderPaid", context=landing).event.user.ttclid == "E.C.P.abc123"


def test_ttclid_field_wins_over_the_url(translator: Translator) -> None:
    """The click id field, when set, is used as is."""
    landing = context(page_url="https://shop.example.com/p?ttclid=from-url")
    assert sent(translator, "OrderPaid", context=landing).event.user.ttclid == "E.C.P.sample-ttclid-1001"


def test_share_allowlist_minimises_identifiers(translator: Translator) -> None:
    """The lead route's share list leaves out ip and names even though the record has them."""
    user = sent(translator, "LeadSubmitted").event.user
    assert user.ip is None and user.first_name is None and user.last_name is None
    assert user.email and user.user_agent


def test_unparseable_phone_is_dropped_and_counted(translator: Translator) -> None:
    """A phone that cannot be read is left out of the event (which still goes) and counted by route and cause."""
    before = dropped_count("order-paid", "phone", "unparseable")
    out = sent(translator, "OrderPaid", customer=customer(phone="call me"))
    assert out.event.user.phone == ()
    assert out.event.user.email
    assert dropped_count("order-paid", "phone", "unparseable") == before + 1


def test_explain_reports_drops_without_counting(translator: Translator) -> None:
    """explain (used by `tiktok-relay map`) lists dropped identifiers and leaves the metric alone."""
    before = dropped_count("order-paid", "phone", "unparseable")
    explanation = translator.explain(record("OrderPaid", customer=customer(phone="call me")), ref("OrderPaid"), NOW_MS)
    assert explanation.dropped == [("phone", "unparseable")]
    assert dropped_count("order-paid", "phone", "unparseable") == before


def test_email_in_a_passed_through_property_is_dropped(translator: Translator) -> None:
    """An email-shaped value in a pass-through property never leaves in clear: the entry is dropped."""
    attributes = {"lead_score": "82", "contact": "Jane.Doe@Example.com"}
    out = sent(translator, "LeadSubmitted", attributes=attributes)
    assert "contact" not in out.event.properties and out.event.properties["lead_score"] == "82"


def test_email_in_the_page_url_drops_only_its_parameter(translator: Translator) -> None:
    """A landing URL carrying an email (newsletter links do) loses that parameter and keeps its attribution."""
    landing = context(page_url="https://shop.example.com/?email=jane.doe%40example.com&ttclid=E.C.P.1&utm_source=tt")
    page = sent(translator, "OrderPaid", context=landing).event.page
    assert page is not None and page["url"] == "https://shop.example.com/?ttclid=E.C.P.1&utm_source=tt"


def test_invalid_currency_is_a_validation_error(translator: Translator) -> None:
    """A currency outside ISO 4217 is rejected (stage policy) instead of being rejected by TikTok."""
    with pytest.raises(EventValidationError) as caught:
        translator.translate(record("OrderPaid", currency="EURO"), ref("OrderPaid"), NOW_MS)
    assert (caught.value.stage, caught.value.reason) == (Stage.POLICY, "validation_error")
    assert "properties.currency" in str(caught.value)


def test_currency_is_upper_cased(translator: Translator) -> None:
    """A lowercase ISO code is accepted and sent upper-cased."""
    assert sent(translator, "OrderPaid", currency="eur").event.properties["currency"] == "EUR"


def test_value_without_currency_is_a_validation_error(translator: Translator) -> None:
    """A CRM conversion with a value but no currency is rejected: TikTok cannot read the value."""
    with pytest.raises(EventValidationError, match="needs a currency"):
        translator.translate(
            record("LeadStatusChanged", stage="CONVERTED", currency=None), ref("LeadStatusChanged"), NOW_MS
        )


def test_crm_event_carries_the_lead(translator: Translator) -> None:
    """CRM routes send lead.lead_id and lead_event_source."""
    lead = sent(translator, "LeadStatusChanged").event.lead
    assert lead == {"lead_id": "lead-2001", "lead_event_source": "example-crm"}


def test_crm_event_without_lead_id_is_rejected() -> None:
    """A CRM event whose record has no lead id is a validation error (TikTok requires it)."""
    config = route_config({"event_source": "crm", "lead": {"lead_id": "lead_id"}})
    with pytest.raises(EventValidationError, match=r"lead\.lead_id"):
        Translator(config.translation).translate(record("OrderPaid"), ref("OrderPaid"), NOW_MS)


def test_crm_event_with_a_blank_lead_id_is_rejected(translator: Translator) -> None:
    """A blank lead id is no lead id: TikTok would reject the request, so the event is a validation error."""
    with pytest.raises(EventValidationError, match=r"lead\.lead_id"):
        sent(translator, "LeadStatusChanged", lead_id="  ")


def test_limited_data_use_comes_from_the_consent_block(translator: Translator) -> None:
    """The web route sends the record's limited_data_use flag."""
    ldu = {"marketing": "GRANTED", "analytics": "GRANTED", "limited_data_use": True}
    assert sent(translator, "OrderPaid", consent=ldu).event.limited_data_use is True


def test_crm_events_carry_no_limited_data_use(translator: Translator) -> None:
    """limited_data_use is a web flag; CRM events leave it out."""
    assert sent(translator, "LeadStatusChanged").event.limited_data_use is None


def route_config(overrides: dict[str, Any], **sections: Any) -> RelayConfig:
    """A one-route config over the OrderPaid sample."""
    route = {
        "name": "custom",
        "topic": "orders.paid",
        "event": "Purchase",
        "event_source_id": "CPIXEL",
        "event_id": "event_id",
        "event_time": "occurred_at",
        "consent": "consent.marketing",
        "user": {"email": "customer.email"},
        **overrides,
    }
    return parse_config({"kafka": {"bootstrap_servers": "127.0.0.1:9092"}, "routes": [route], **sections})


def test_test_event_code_defaults_to_the_tiktok_section() -> None:
    """tiktok.test_event_code applies to every destination..."""
    config = route_config({}, tiktok={"test_event_code": "TEST1"})
    out = Translator(config.translation).translate(record("OrderPaid"), ref("OrderPaid"), NOW_MS)
    assert isinstance(out, OutboundEvent) and out.destination.test_event_code == "TEST1"


def test_route_test_event_code_overrides() -> None:
    """...and a route's own test_event_code overrides it for that route."""
    config = route_config({"test_event_code": "TEST2"}, tiktok={"test_event_code": "TEST1"})
    out = Translator(config.translation).translate(record("OrderPaid"), ref("OrderPaid"), NOW_MS)
    assert isinstance(out, OutboundEvent) and out.destination.test_event_code == "TEST2"


def test_constant_property_is_sent() -> None:
    """{value: ...} sends a constant (content_type: product)."""
    config = route_config({"properties": {"content_type": {"value": "product"}}})
    out = Translator(config.translation).translate(record("OrderPaid"), ref("OrderPaid"), NOW_MS)
    assert isinstance(out, OutboundEvent) and out.event.properties == {"content_type": "product"}


def test_field_default_replaces_null() -> None:
    """{from: ..., default: ...} fills a null field."""
    config = route_config({"properties": {"customer_segment": {"from": "customer_segment", "default": "new"}}})
    out = Translator(config.translation).translate(record("OrderPaid", customer_segment=None), ref("OrderPaid"), NOW_MS)
    assert isinstance(out, OutboundEvent) and out.event.properties["customer_segment"] == "new"


def test_missing_event_time_is_a_mapping_error() -> None:
    """A route whose event_time field the record lacks fails as mapping_error, naming the field path."""
    config = route_config({"event_time": "paid_at"})
    with pytest.raises(MappingError, match="'paid_at' is null or missing") as caught:
        Translator(config.translation).translate(record("OrderPaid"), ref("OrderPaid"), NOW_MS)
    assert (caught.value.stage, caught.value.reason, caught.value.route) == (Stage.MAP, "mapping_error", "custom")


def test_path_through_a_scalar_is_a_mapping_error() -> None:
    """A path that steps into a number (total.amount) does not fit the record: mapping_error, not silence."""
    config = route_config({"properties": {"value": "total.amount", "currency": "currency"}})
    with pytest.raises(MappingError, match=r"'total\.amount'"):
        Translator(config.translation).translate(record("OrderPaid"), ref("OrderPaid"), NOW_MS)


def test_array_index_path() -> None:
    """A numeric path segment indexes an array (items.0.sku)."""
    config = route_config({"properties": {"content_id": "items.0.sku"}})
    out = Translator(config.translation).translate(record("OrderPaid"), ref("OrderPaid"), NOW_MS)
    assert isinstance(out, OutboundEvent) and out.event.properties["content_id"] == "SKU-TEE-01"


def test_several_emails_are_sent_as_a_list() -> None:
    """email takes several paths; distinct digests are all sent."""
    config = route_config({"user": {"email": ["customer.email", "customer.customer_id"]}})
    rec = record("OrderPaid", customer=customer(customer_id="Other@Example.com"))
    out = Translator(config.translation).translate(rec, ref("OrderPaid"), NOW_MS)
    assert isinstance(out, OutboundEvent)
    assert out.event.user.email == (sha("jane.doe@example.com"), sha("other@example.com"))


def test_json_shaped_values_are_accepted() -> None:
    """Records from JSON (text decimals, ISO timestamps) map like decoded Avro records."""
    config = route_config({"properties": {"value": "total", "currency": "currency"}})
    json_like = record("OrderPaid", total="51.80", occurred_at=SAMPLE_TIME.isoformat())
    out = Translator(config.translation).translate(json_like, ref("OrderPaid"), NOW_MS)
    assert isinstance(out, OutboundEvent)
    assert out.event.properties["value"] == 51.8
    assert out.event.event_time == int(SAMPLE_TIME.timestamp())


def test_non_numeric_value_is_a_validation_error() -> None:
    """A value that is not a number is rejected before TikTok would reject the batch."""
    config = route_config({"properties": {"value": "order_id", "currency": "currency"}})
    with pytest.raises(EventValidationError, match=r"properties\.value"):
        Translator(config.translation).translate(record("OrderPaid"), ref("OrderPaid"), NOW_MS)


def test_integral_decimal_value_is_an_int() -> None:
    """Decimal('1200.00') is sent as 1200."""
    config = route_config({"properties": {"value": "total", "currency": "currency"}})
    out = Translator(config.translation).translate(
        record("OrderPaid", total=Decimal("1200.00")), ref("OrderPaid"), NOW_MS
    )
    assert isinstance(out, OutboundEvent) and out.event.properties["value"] == 1200
