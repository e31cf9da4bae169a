"""The consent gate and the limited_data_use rule."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import pytest

from consumer.policy.consent import CONSENT_DENIED, CONSENT_UNKNOWN, ConsentGate, LimitedDataUseRule
from consumer.policy.settings import ConsentSettings, LimitedDataUseSettings


def gate(fields: list[str], unknown: Literal["deny", "grant"] = "deny", **values: Any) -> ConsentGate:
    return ConsentGate(ConsentSettings(fields=fields, **values), unknown)


def record(marketing: object = "GRANTED", analytics: object = "GRANTED") -> dict[str, Any]:
    return {"consent": {"marketing": marketing, "analytics": analytics}}


@pytest.mark.parametrize("value", ["GRANTED", "granted", True, "yes", 1])
def test_granted_consent_lets_the_event_through(value: object) -> None:
    """Granted values compare case-insensitively as text; booleans and 1 count as granted."""
    assert gate(["consent.marketing"]).withheld_reason(record(marketing=value)) is None


@pytest.mark.parametrize("value", ["DENIED", "denied", False, "no", 0])
def test_denied_consent_withholds_the_event(value: object) -> None:
    """A denied value withholds the event with reason consent_denied."""
    assert gate(["consent.marketing"]).withheld_reason(record(marketing=value)) == CONSENT_DENIED


@pytest.mark.parametrize("value", ["UNKNOWN", None, "maybe"])
def test_unknown_consent_is_denied_by_default(value: object) -> None:
    """Null, UNKNOWN or an unrecognised value withholds the event under unknown_consent: deny."""
    assert gate(["consent.marketing"]).withheld_reason(record(marketing=value)) == CONSENT_UNKNOWN


def test_missing_consent_block_is_unknown() -> None:
    """A record without the consent field at all is unknown, not granted."""
    assert gate(["consent.marketing"]).withheld_reason({}) == CONSENT_UNKNOWN


def test_unknown_consent_passes_when_policy_grants() -> None:
    """unknown_consent: grant lets unknown through."""
    assert gate(["consent.marketing"], "grant").withheld_reason(record(marketing="UNKNOWN")) is None


def test_denied_wins_over_grant_policy() -> None:
    """unknown_consent: grant never overrides an explicit denial."""
    assert gate(["consent.marketing"], "grant").withheld_reason(record(marketing="DENIED")) == CONSENT_DENIED


def test_every_listed_field_must_be_granted() -> None:
    """With several consent fields, one denied field withholds the event even if the others are granted."""
    both = gate(["consent.marketing", "consent.analytics"])
    assert both.withheld_reason(record(analytics="DENIED")) == CONSENT_DENIED
    assert both.withheld_reason(record()) is None


def test_configured_values_replace_the_defaults() -> None:
    """A schema with its own vocabulary (opt-in flags) names its granted and denied values."""
    custom = gate(["consent.marketing"], granted=["subscribed"], denied=["unsubscribed"])
    assert custom.withheld_reason(record(marketing="Subscribed")) is None
    assert custom.withheld_reason(record(marketing="UNSUBSCRIBED")) == CONSENT_DENIED
    assert custom.withheld_reason(record(marketing="GRANTED")) == CONSENT_UNKNOWN


def ldu(**settings: Any) -> Callable[[Any], bool]:
    return LimitedDataUseRule(LimitedDataUseSettings(**settings)).applies


def test_limited_data_use_comes_from_the_record() -> None:
    """The record's flag decides when it is set."""
    rule = ldu(**{"from": "consent.limited_data_use"})
    assert rule({"consent": {"limited_data_use": True}}) is True
    assert rule({"consent": {"limited_data_use": False}}) is False


def test_limited_data_use_default_applies_to_null() -> None:
    """A null or missing flag takes the configured default."""
    assert ldu(**{"from": "consent.limited_data_use", "default": True})({"consent": {}}) is True


def test_limited_data_use_rule_forces_it_on() -> None:
    """A when_any rule (e.g. customer.region in [CA]) sets it even when the record says false."""
    rule = ldu(**{"from": "consent.limited_data_use", "when_any": {"customer.region": ["CA", "CO"]}})
    assert rule({"customer": {"region": "CA"}, "consent": {"limited_data_use": False}}) is True
    assert rule({"customer": {"region": "NY"}, "consent": {"limited_data_use": False}}) is False
