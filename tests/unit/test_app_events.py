"""event_source app: route settings, the mapped event (mobile identifiers, app context, ad callback, limited data
use) and the sandbox's validation of app requests."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import orjson
import pytest

from consumer.config import RelayConfig, load_config, parse_config
from consumer.demo.samples import SAMPLE_TIME, sample_record
from consumer.errors import ConfigError
from consumer.mapping.translator import Translator
from consumer.model import DomainRecord, EventSource, OutboundEvent, SourceRef
from consumer.policy.errors import EventValidationError
from consumer.sandbox.validate import validate_events
from consumer.sending.body import encode_event

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "config" / "relay.example.yaml"
NOW_MS = int(SAMPLE_TIME.timestamp() * 1000) + 60_000
SCHEMA = "com.example.commerce.InAppOrderPaid"
TOPIC = "app.orders.paid"
HEX = "a" * 64

APP_ROUTE: dict[str, Any] = {
    "name": "app-orders",
    "topic": "app.orders",
    "event": "Purchase",
    "event_source": "app",
    "event_source_id": "7400000000000000101",
    "event_id": "event_id",
    "event_time": "occurred_at",
    "consent": "consent.marketing",
    "app": {"app_id": "app.app_id"},
}


def config(*routes: dict[str, Any]) -> RelayConfig:
    return parse_config({"kafka": {"bootstrap_servers": "127.0.0.1:9092"}, "routes": list(routes)})


def config_error(route: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as caught:
        config(route)
    return str(caught.value)


@pytest.fixture(scope="module")
def translator() -> Translator:
    return Translator(load_config(EXAMPLE_CONFIG).translation)


def app_order(translator: Translator, **overrides: Any) -> OutboundEvent:
    result = translator.translate(
        DomainRecord(SCHEMA, sample_record(SCHEMA, **overrides)), SourceRef(TOPIC, 0, 1), NOW_MS
    )
    assert isinstance(result, OutboundEvent)
    return result


def device(**fields: Any) -> dict[str, Any]:
    return {**sample_record(SCHEMA)["device"], **fields}


# -- route settings ---------------------------------------------------------------------------------------------


def test_app_route_is_accepted() -> None:
    """event_source app is a first-class source: its route loads, with the TikTok App ID as event_source_id."""
    route = config(APP_ROUTE).routes[0]
    assert (route.event_source, route.event_source_id) == ("app", "7400000000000000101")
    assert route.hash_device_ids is False


def test_app_route_needs_an_app_id() -> None:
    """TikTok's app events carry app.app_id: a route of event_source app without one is a config error."""
    route = {key: value for key, value in APP_ROUTE.items() if key != "app"}
    assert "route 'app-orders': app.app_id: app events need an app id" in config_error(route)


@pytest.mark.parametrize("key", ["idfa", "idfv", "gaid", "att_status"])
def test_mobile_identifiers_belong_to_app_routes(key: str) -> None:
    """A web route cannot map a device id: TikTok reads those on app events only."""
    route = {**APP_ROUTE, "event_source": "web", "app": None, "user": {key: f"device.{key}"}}
    assert f"route 'app-orders': user.{key}: applies to app events only" in config_error(route)


@pytest.mark.parametrize("key", ["app", "ad"])
def test_app_context_belongs_to_app_routes(key: str) -> None:
    route = {
        **APP_ROUTE,
        "event_source": "web",
        "app": None,
        key: {"app_id": "x"} if key == "app" else {"callback": "x"},
    }
    assert f"route 'app-orders': {key}: applies to app events only" in config_error(route)


def test_limited_data_use_applies_to_app_routes() -> None:
    """limited_data_use is defined for web and app events alike."""
    route = config({**APP_ROUTE, "limited_data_use": {"from": "consent.limited_data_use"}}).routes[0]
    assert route.limited_data_use is not None


def test_share_can_name_mobile_identifiers() -> None:
    route = config({**APP_ROUTE, "user": {"idfa": "device.idfa"}, "share": ["idfa", "att_status"]}).routes[0]
    assert route.share == ["idfa", "att_status"]


# -- the mapped app order ----------------------------------------------------------------------------------------


def test_example_app_order_goes_to_the_platforms_tiktok_app(translator: Translator) -> None:
    """The example route takes the TikTok App ID from a table by platform, as web routes take pixels."""
    ios = app_order(translator)
    android = app_order(
        translator,
        device=device(
            platform="ANDROID", idfa=None, idfv=None, gaid="38400000-8CF0-11BD-B23E-10B96E40000D", att_status=None
        ),
    )
    assert ios.destination.event_source is EventSource.APP
    assert (ios.destination.event_source_id, android.destination.event_source_id) == (
        "7400000000000000101",
        "7400000000000000102",
    )


def test_example_app_order_carries_device_ids_app_context_and_callback(translator: Translator) -> None:
    """The body has user.idfa/idfv/att_status (normalised, unhashed by default), app {app_id, app_name,
    app_version}, ad {callback} and limited_data_use, besides the hashed email and the order's properties."""
    body = encode_event(app_order(translator).event)
    event = orjson.loads(body)
    sample = sample_record(SCHEMA)
    assert event["user"]["idfa"] == sample["device"]["idfa"].lower()
    assert event["user"]["idfv"] == sample["device"]["idfv"].lower()
    assert "gaid" not in event["user"]
    assert event["user"]["att_status"] == "AUTHORIZED"
    assert event["user"]["email"] == hashlib.sha256(b"jane.doe@example.com").hexdigest()
    assert event["app"] == sample["app"]
    assert event["ad"] == {"callback": sample["attribution"]["callback"]}
    assert event["limited_data_use"] is False
    assert "page" not in event
    assert event["properties"]["value"] == 51.8


def test_zeroed_idfa_is_left_out_and_the_event_still_goes(translator: Translator) -> None:
    """Without ATT authorisation iOS gives the all-zero IDFA: the event goes without it."""
    event = app_order(translator, device=device(idfa="00000000-0000-0000-0000-000000000000", att_status="DENIED"))
    assert event.event.user.idfa is None
    assert event.event.user.att_status == "DENIED"


def test_hash_device_ids_hashes_them(translator: Translator) -> None:
    """The per-route setting hashes idfa, idfv and gaid after normalising; att_status stays plain."""
    route = {
        **APP_ROUTE,
        "topic": TOPIC,
        "hash_device_ids": True,
        "user": {"idfa": "device.idfa", "gaid": "device.gaid", "att_status": "device.att_status"},
    }
    hashing = Translator(config(route).translation)
    record = sample_record(SCHEMA, device=device(gaid="38400000-8CF0-11BD-B23E-10B96E40000D", idfa=HEX.upper()))
    result = hashing.translate(DomainRecord(SCHEMA, record), SourceRef(TOPIC, 0, 1), NOW_MS)
    assert isinstance(result, OutboundEvent)
    user = result.event.user
    assert user.gaid == hashlib.sha256(b"38400000-8cf0-11bd-b23e-10b96e40000d").hexdigest()
    assert user.idfa == HEX  # already a digest: passed through, not hashed again
    assert user.att_status == "AUTHORIZED"


def test_app_event_without_an_app_id_is_a_validation_error(translator: Translator) -> None:
    """A record whose app id is empty cannot become an app event TikTok accepts."""
    with pytest.raises(EventValidationError, match=r"app\.app_id"):
        app_order(translator, app={**sample_record(SCHEMA)["app"], "app_id": " "})


# -- sandbox ------------------------------------------------------------------------------------------------------


def app_event(**changes: Any) -> dict[str, Any]:
    event: dict[str, Any] = {
        "event": "Purchase",
        "event_time": 1_700_000_000,
        "event_id": "order-1",
        "user": {"idfa": "6d92078a-8246-4ba4-ae5b-76104861e7dc", "att_status": "AUTHORIZED", "email": HEX},
        "app": {"app_id": "id1234567890", "app_name": "Example Shop", "app_version": "5.2.0"},
        "ad": {"callback": "E.C.P.v3-callback"},
    }
    event.update(changes)
    return event


def test_sandbox_accepts_an_app_event() -> None:
    assert validate_events("app", [app_event()]) is None


@pytest.mark.parametrize(
    ("event", "field"),
    [
        (app_event(app=None), "data[0].app.app_id"),
        (app_event(app={"app_name": "x"}), "data[0].app.app_id"),
        (app_event(app={"app_id": 1234}), "data[0].app.app_id"),
        (app_event(user={"att_status": "MAYBE"}), "data[0].user.att_status"),
        (app_event(user={"idfa": 12}), "data[0].user.idfa"),
        (app_event(ad={"callback": 5}), "data[0].ad.callback"),
    ],
)
def test_sandbox_rejects_malformed_app_events(event: dict[str, Any], field: str) -> None:
    """An app event needs app.app_id; device ids and the callback are strings; att_status is TikTok's vocabulary."""
    error = validate_events("app", [event])
    assert error is not None and error.startswith(f"Invalid value for {field}:")


def test_sandbox_does_not_require_an_app_id_of_web_events() -> None:
    """app.app_id is an app-source requirement; web events (without page) still pass."""
    assert validate_events("web", [app_event(app=None, ad=None, user={"email": HEX})]) is None
