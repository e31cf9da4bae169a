"""The route section of the config: errors name the route and the key, at start-up."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from consumer.config import RelayConfig, load_config, parse_config
from consumer.errors import ConfigError
from consumer.mapping.settings import LookupSettings

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "relay.example.yaml"

ROUTE: dict[str, Any] = {
    "name": "orders",
    "topic": "orders.paid",
    "event": "Purchase",
    "event_source_id": "CPIXEL",
    "event_id": "event_id",
    "event_time": "occurred_at",
    "consent": "consent.marketing",
}


def config(*routes: dict[str, Any], **sections: Any) -> RelayConfig:
    return parse_config({"kafka": {"bootstrap_servers": "127.0.0.1:9092"}, "routes": list(routes), **sections})


def config_error(*routes: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        config(*routes)
    return str(caught.value)


def test_example_config_loads() -> None:
    """config/relay.example.yaml, which ships the reference routes, is valid."""
    loaded = load_config(EXAMPLE_CONFIG)
    assert [route.name for route in loaded.routes] == [
        "order-paid",
        "order-placed",
        "lead-submitted",
        "lead-qualified",
        "lead-converted",
        "app-order-paid",
    ]


def test_shorthands_expand() -> None:
    """A bare path stands for {from: path}; a bare consent path for {fields: [path]}."""
    route = config(ROUTE).routes[0]
    assert route.event_id.from_ == "event_id"
    assert route.event_time.from_ == "occurred_at"
    assert route.consent.fields == ["consent.marketing"]


def test_error_names_route_and_key() -> None:
    """A bad value inside a route is reported with the route's name and the key's path."""
    message = config_error({**ROUTE, "event_source": "pixel"})
    assert "routes.0: route 'orders': event_source:" in message


def test_unknown_key_names_route_and_key() -> None:
    """A typo inside a nested block is rejected, naming the route and the full key."""
    message = config_error({**ROUTE, "user": {"emial": "customer.email"}})
    assert "route 'orders': user.emial: Extra inputs are not permitted" in message


def test_missing_required_key_is_named() -> None:
    """Leaving out a required key (here consent) names it."""
    route = dict(ROUTE)
    del route["consent"]
    assert "route 'orders': consent: Field required" in config_error(route)


def test_bad_field_path_is_rejected() -> None:
    """A field path with an empty segment is a config error, not a silent null at run time."""
    assert "user.email.0: 'customer..email' is not a field path" in config_error(
        {**ROUTE, "user": {"email": "customer..email"}}
    )


def test_event_name_differing_only_in_case_is_rejected() -> None:
    """Event names are case-sensitive at TikTok: 'purchase' is almost surely a typo of 'Purchase'."""
    assert "event: 'purchase' differs from TikTok's 'Purchase' only in case" in config_error(
        {**ROUTE, "event": "purchase"}
    )


def test_custom_event_name_is_allowed() -> None:
    """Names outside TikTok's list are custom events, which TikTok accepts."""
    assert config({**ROUTE, "event": "QualifiedLead"}).routes[0].event == "QualifiedLead"


def test_crm_route_needs_lead_id() -> None:
    """event_source crm requires lead.lead_id (TikTok's rule for CRM events)."""
    assert "route 'orders': lead.lead_id: crm events need a lead id" in config_error({**ROUTE, "event_source": "crm"})


def test_event_id_needs_a_source() -> None:
    """event_id must name a field, fields to derive from, or both."""
    assert "route 'orders': event_id: give 'from' and/or 'derive_from'" in config_error(
        {**ROUTE, "event_id": {"derive_from": []}}
    )


def test_value_spec_takes_a_field_or_a_constant() -> None:
    """A property is either a field path or a constant, not both."""
    message = config_error({**ROUTE, "properties": {"content_type": {"from": "kind", "value": "product"}}})
    assert "properties.content_type: give exactly one of 'from'" in message


def test_share_names_only_tiktok_identifiers() -> None:
    """The minimisation allowlist accepts only names of TikTok user fields."""
    assert "route 'orders': share.0:" in config_error({**ROUTE, "share": ["mail"]})


def test_lookup_table_must_not_be_empty() -> None:
    """An event_source_id lookup with an empty table is rejected."""
    message = config_error({**ROUTE, "event_source_id": {"from": "store", "table": {}}})
    assert "route 'orders': event_source_id" in message


def test_limited_data_use_only_for_web_and_app() -> None:
    """limited_data_use is a web and app flag; TikTok does not define it for offline or CRM events."""
    route = {**ROUTE, "event_source": "offline", "limited_data_use": {"default": True}}
    assert "route 'orders': limited_data_use: applies to web and app events only" in config_error(route)


def test_duplicate_route_names_are_rejected() -> None:
    """Route names are metric labels and dead-letter headers: they must be unique."""
    other = {**ROUTE, "topic": "orders.placed"}
    assert "route name 'orders' is used twice (routes.1)" in config_error(ROUTE, other)


def test_shadowed_route_is_rejected() -> None:
    """A route that an earlier route on the same topic always wins against could never run: config error."""
    broad = {**ROUTE, "name": "all-leads", "topic": "crm"}
    narrow = {**broad, "name": "qualified", "match": {"fields": {"stage": ["QUALIFIED"]}}}
    assert "route 'qualified' (routes.1) can never be selected: route 'all-leads'" in config_error(broad, narrow)


def test_routes_split_by_field_value_are_accepted() -> None:
    """Two routes on one topic with disjoint field matches are both reachable."""
    qualified = {**ROUTE, "name": "qualified", "topic": "crm", "match": {"fields": {"stage": ["QUALIFIED"]}}}
    converted = {**qualified, "name": "converted", "match": {"fields": {"stage": ["CONVERTED"]}}}
    assert len(config(qualified, converted).routes) == 2


def test_narrow_route_before_broad_route_is_accepted() -> None:
    """A fallback route after a narrower one is reachable (first match wins)."""
    narrow = {**ROUTE, "name": "big-orders", "match": {"fields": {"store": ["main"]}}}
    assert len(config(narrow, ROUTE).routes) == 2


def test_unknown_phone_region_is_rejected() -> None:
    """policy.phone_default_region must be a region phonenumbers knows."""
    with pytest.raises(ConfigError, match=r"policy\.phone_default_region"):
        config(ROUTE, policy={"phone_default_region": "XX"})


def test_durations_accept_iso_8601() -> None:
    """policy.max_event_age takes ISO 8601 durations (P7D) as in the example config."""
    assert config(ROUTE, policy={"max_event_age": "P3D"}).policy.max_event_age.days == 3


def test_email_field_cannot_also_be_a_property() -> None:
    """The field mapped to user.email may not be copied into properties too: it would leave unhashed."""
    route = {**ROUTE, "user": {"email": "customer.email"}, "properties": {"contact": "customer.email"}}
    assert "properties.contact: field 'customer.email' holds user.email" in config_error(route)


def test_record_holding_the_phone_cannot_pass_through() -> None:
    """Spreading a record that contains the user.phone field (properties_from: [customer]) is refused."""
    route = {**ROUTE, "user": {"phone": "customer.phone"}, "properties_from": ["customer"]}
    assert "properties_from.0: field 'customer' holds user.phone ('customer.phone')" in config_error(route)


def test_unquoted_numeric_ids_are_text() -> None:
    """An unquoted event set id or numeric table key in YAML is taken as its text, not refused."""
    lookup = config({**ROUTE, "event_source_id": {"from": "store", "table": {1: 7400000000000000001}}}).routes[0]
    fixed = config({**ROUTE, "event_source_id": 7400000000000000001}).routes[0]
    assert isinstance(lookup.event_source_id, LookupSettings)
    assert lookup.event_source_id.table == {"1": "7400000000000000001"}
    assert fixed.event_source_id == "7400000000000000001"
