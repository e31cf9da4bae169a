"""The guarantees of the value types built per event (consumer.model), whatever mechanism builds them: immutable,
keyword construction with defaults, equality and hashing where they are dict keys, and TikTokUser's refusal of
anything but ``Sha256Hex`` in a hashed field, naming the field."""

from __future__ import annotations

import pickle
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumer.model import (
    Delivered,
    Destination,
    DomainRecord,
    EventSource,
    OutboundEvent,
    Sha256Hex,
    SourceRef,
    TikTokEvent,
    TikTokUser,
)

DIGEST = Sha256Hex("a" * 64)
OTHER = Sha256Hex("b" * 64)
MULTI = ("email", "phone", "external_id")
SINGLE = ("first_name", "last_name", "zip_code")
USER_FIELDS = (
    *MULTI, *SINGLE, "city", "state", "country", "ttclid", "ttp", "ip", "user_agent", "locale", "idfa", "idfv", "gaid",
    "att_status",
)  # fmt: skip


def _event(**overrides: Any) -> TikTokEvent:
    values: dict[str, Any] = {"event": "Purchase", "event_time": 1_700_000_000, "event_id": "e-1"}
    return TikTokEvent(**(values | overrides))


def _outbound() -> OutboundEvent:
    return OutboundEvent(
        ref=SourceRef("orders", 1, 7),
        route="orders",
        destination=Destination(EventSource.WEB, "pixel"),
        event=_event(),
        event_id_origin="record",
    )


def test_tiktok_user_keyword_construction_with_defaults() -> None:
    """Fields not given take their defaults: empty tuples for the multi-valued identifiers, None for the rest."""
    user = TikTokUser(email=(DIGEST,), ip="203.0.113.9")
    assert user.email == (DIGEST,)
    assert user.ip == "203.0.113.9"
    assert (user.phone, user.external_id) == ((), ())
    assert user.first_name is None and user.att_status is None and user.gaid is None
    assert TikTokUser() == TikTokUser(email=(), phone=(), external_id=(), first_name=None)


def test_tiktok_user_keeps_each_keyword_in_its_field() -> None:
    """Every field given by keyword reads back from that field and no other."""
    for name in USER_FIELDS:
        value: Any = (DIGEST,) if name in MULTI else DIGEST if name in SINGLE else f"{name}-value"
        raw: dict[str, Any] = {name: value}
        user = TikTokUser(**raw)
        assert getattr(user, name) == value
        assert user.to_json() == {name: str(DIGEST) if name in MULTI else str(value)}


def test_tiktok_user_accepts_digests_in_every_hashed_field() -> None:
    user = TikTokUser(
        email=(DIGEST, OTHER),
        phone=(DIGEST,),
        external_id=(OTHER,),
        first_name=DIGEST,
        last_name=OTHER,
        zip_code=DIGEST,
    )
    assert user.email == (DIGEST, OTHER)
    assert user.last_name == OTHER


@pytest.mark.parametrize("name", MULTI)
def test_tiktok_user_refuses_a_raw_string_in_a_multi_valued_hashed_field(name: str) -> None:
    with pytest.raises(TypeError, match=rf"TikTokUser\.{name} accepts only Sha256Hex"):
        raw: dict[str, Any] = {name: (DIGEST, "alice@example.com")}
        TikTokUser(**raw)


@pytest.mark.parametrize("name", MULTI)
def test_tiktok_user_refuses_a_bare_string_for_a_multi_valued_hashed_field(name: str) -> None:
    """A digest not wrapped in a tuple is refused too, naming the field."""
    with pytest.raises(TypeError, match=rf"TikTokUser\.{name} accepts only Sha256Hex"):
        raw: dict[str, Any] = {name: "alice@example.com"}
        TikTokUser(**raw)


@pytest.mark.parametrize("name", SINGLE)
def test_tiktok_user_refuses_a_raw_string_in_a_single_hashed_field(name: str) -> None:
    with pytest.raises(TypeError, match=rf"TikTokUser\.{name} accepts only Sha256Hex"):
        raw: dict[str, Any] = {name: "Alice"}
        TikTokUser(**raw)


def test_tiktok_user_names_the_first_offending_field() -> None:
    with pytest.raises(TypeError, match=r"TikTokUser\.phone accepts only Sha256Hex"):
        TikTokUser(email=(DIGEST,), phone=("+15550100",), zip_code="90210")  # type: ignore[arg-type]


def test_tiktok_user_replace_keeps_the_check() -> None:
    """A changed copy is checked like a new one."""
    user = TikTokUser(email=(DIGEST,))
    assert user._replace(ip="203.0.113.9") == TikTokUser(email=(DIGEST,), ip="203.0.113.9")
    with pytest.raises(TypeError, match=r"TikTokUser\.first_name accepts only Sha256Hex"):
        user._replace(first_name="Alice")  # type: ignore[arg-type]


def test_tiktok_user_is_immutable() -> None:
    user = TikTokUser(email=(DIGEST,))
    with pytest.raises(AttributeError):
        user.email = (OTHER,)  # type: ignore[misc]
    with pytest.raises(AttributeError):
        user.ip = "203.0.113.9"  # type: ignore[misc]
    assert user.email == (DIGEST,)


def test_tiktok_user_pickles_and_keeps_its_check() -> None:
    user = TikTokUser(email=(DIGEST,), city="Berlin")
    again = pickle.loads(pickle.dumps(user))
    assert again == user
    assert type(again) is TikTokUser


def test_tiktok_user_equality_and_hash_follow_the_values() -> None:
    assert TikTokUser(email=(DIGEST,)) == TikTokUser(email=(DIGEST,))
    assert TikTokUser(email=(DIGEST,)) != TikTokUser(email=(OTHER,))
    assert hash(TikTokUser(email=(DIGEST,), ip="x")) == hash(TikTokUser(email=(DIGEST,), ip="x"))


def test_tiktok_event_keyword_construction_with_defaults() -> None:
    event = _event()
    assert event.user == TikTokUser()
    assert not event.properties
    assert (event.page, event.lead, event.app, event.ad, event.limited_data_use) == (None, None, None, None, None)
    assert event.to_json() == {"event": "Purchase", "event_time": 1_700_000_000, "event_id": "e-1", "user": {}}


def test_tiktok_event_is_immutable() -> None:
    event = _event(properties={"value": 1})
    with pytest.raises(AttributeError):
        event.event = "Other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        event.user = TikTokUser()  # type: ignore[misc]
    assert event.event == "Purchase"


def test_outbound_event_keyword_construction_with_defaults() -> None:
    outbound = _outbound()
    assert outbound.subject is None
    assert outbound.ref == SourceRef("orders", 1, 7)
    assert outbound.event.event_id == "e-1"


def test_outbound_event_is_immutable() -> None:
    outbound = _outbound()
    with pytest.raises(AttributeError):
        outbound.route = "other"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        outbound.ref = SourceRef("orders", 1, 8)  # type: ignore[misc]


def test_domain_record_keyword_construction_with_defaults() -> None:
    record = DomainRecord(schema_name="shop.OrderPaid", value={"order_id": "o-1"})
    assert record.schema_id is None
    assert record.value == {"order_id": "o-1"}
    assert DomainRecord("shop.OrderPaid", {}, 3).schema_id == 3


def test_domain_record_is_immutable() -> None:
    record = DomainRecord("shop.OrderPaid", {})
    with pytest.raises(AttributeError):
        record.schema_name = "other"  # type: ignore[misc]


def test_source_ref_is_an_immutable_dict_key() -> None:
    ref = SourceRef("orders", 1, 7)
    counts = {ref: 1}
    assert counts[SourceRef(topic="orders", partition=1, offset=7)] == 1
    assert SourceRef("orders", 1, 8) not in counts
    with pytest.raises(AttributeError):
        ref.offset = 8  # type: ignore[misc]


def test_destination_is_a_dict_key() -> None:
    batches = {Destination(EventSource.WEB, "pixel"): 1}
    assert batches[Destination(event_source=EventSource.WEB, event_source_id="pixel")] == 1
    assert Destination(EventSource.WEB, "pixel", "TEST1") not in batches


def _general_user_json(user: TikTokUser) -> dict[str, Any]:
    """TikTok's user shape computed field by field from the field's type (what ``TikTokUser.to_json`` shortcuts)."""
    out: dict[str, Any] = {}
    for name in USER_FIELDS:
        value = getattr(user, name)
        if isinstance(value, tuple):
            if value:
                out[name] = str(value[0]) if len(value) == 1 else [str(v) for v in value]
        elif value is not None:
            out[name] = str(value)
    return out


_digests = st.builds(Sha256Hex, st.text("0123456789abcdef", min_size=64, max_size=64))
_texts = st.none() | st.text(max_size=8)


@given(
    multi=st.tuples(*[st.lists(_digests, max_size=3).map(tuple) for _ in MULTI]),
    single=st.tuples(*[st.none() | _digests for _ in SINGLE]),
    rest=st.tuples(*[_texts for _ in USER_FIELDS[len(MULTI) + len(SINGLE) :]]),
)
def test_tiktok_user_to_json_equals_the_field_by_field_shape(
    multi: tuple[Any, ...], single: tuple[Any, ...], rest: tuple[Any, ...]
) -> None:
    """Empty strings stay, empty tuples and None go, one digest is a string and several an array."""
    user = TikTokUser(**dict(zip(USER_FIELDS, (*multi, *single, *rest), strict=True)))
    assert user.to_json() == _general_user_json(user)


def test_delivered_keyword_construction_with_defaults_and_immutable() -> None:
    delivered = Delivered(ref=SourceRef("orders", 1, 7))
    assert (delivered.tiktok_code, delivered.request_id) == (0, None)
    assert Delivered(SourceRef("orders", 1, 7), 20001, "r-1").request_id == "r-1"
    with pytest.raises(AttributeError):
        delivered.tiktok_code = 1  # type: ignore[misc]


def test_tiktok_event_to_json_carries_every_field_given() -> None:
    """Every object given is in TikTok's shape, copied to a plain dict; empty and absent ones are omitted."""
    event = _event(
        user=TikTokUser(email=(DIGEST,)),
        properties={"value": 1},
        page={"url": "https://shop.example/p"},
        lead={"lead_id": "l-1"},
        app={"app_id": "a-1"},
        ad={"callback": "c-1"},
        limited_data_use=False,
    )
    assert event.to_json() == {
        "event": "Purchase",
        "event_time": 1_700_000_000,
        "event_id": "e-1",
        "user": {"email": str(DIGEST)},
        "properties": {"value": 1},
        "page": {"url": "https://shop.example/p"},
        "lead": {"lead_id": "l-1"},
        "app": {"app_id": "a-1"},
        "ad": {"callback": "c-1"},
        "limited_data_use": False,
    }
    assert _event(properties={}, page={}, limited_data_use=None).to_json() == _event().to_json()
