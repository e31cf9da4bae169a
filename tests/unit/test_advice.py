"""Advice rules: each fires past its documented threshold, names the event and the figure, and stays quiet
otherwise."""

from __future__ import annotations

from consumer.model import EventSource, Stage
from consumer.observability.coverage import IDENTIFIERS
from consumer.report.advice import MIN_EVENTS, advise
from consumer.report.coverage import Coverage
from tests.unit.coverage_factories import failure, outbound, withheld

ALL = IDENTIFIERS


def texts(coverage: Coverage) -> list[str]:
    return [item.text for item in advise(coverage.rows())]


def full_coverage(count: int = 100, route: str = "orders") -> Coverage:
    """``count`` web Purchase events carrying every identifier with a Pixel-shared event_id: no advice."""
    coverage = Coverage()
    for _ in range(count):
        coverage.observe_outbound(outbound(*ALL, route=route))
    return coverage


def test_full_coverage_gets_no_advice() -> None:
    """A hundred events carrying every identifier with Pixel-shared ids meet every threshold."""
    assert texts(full_coverage()) == []


def test_low_phone_share_names_the_share_and_the_fix() -> None:
    """38 of 100 events carrying a phone is below 80%: the advice says so in the operator's words."""
    coverage = Coverage()
    for index in range(100):
        identifiers = ALL if index < 38 else tuple(name for name in ALL if name != "phone")
        coverage.observe_outbound(outbound(*identifiers))
    assert texts(coverage) == ["Purchase: 38% carry phone; add phone to the event to raise match quality."]


def test_identifier_at_threshold_gets_no_advice() -> None:
    """Exactly 80% email is not below the 80% threshold."""
    coverage = Coverage()
    for index in range(100):
        coverage.observe_outbound(outbound(*(ALL if index < 80 else tuple(n for n in ALL if n != "email"))))
    assert texts(coverage) == []


def test_browser_identifiers_are_not_asked_of_crm_events() -> None:
    """A crm event has no browser: missing ip, user agent, ttp and ttclid are fine, missing email is not."""
    coverage = Coverage()
    for _ in range(50):
        coverage.observe_outbound(outbound("phone", "external_id", source=EventSource.CRM, origin="derived"))
    assert texts(coverage) == [
        "Purchase: 0% carry email; add the customer's email to the event to raise match quality."
    ]


def test_derived_event_ids_on_web_events_ask_for_the_pixel_id() -> None:
    """Half the web events with a derived event_id is below 90% Pixel-shared: dedup advice."""
    coverage = full_coverage(50)
    for _ in range(50):
        coverage.observe_outbound(outbound(*ALL, origin="derived"))
    (advice,) = texts(coverage)
    assert advice.startswith("Purchase: only 50% share their event_id with the Pixel")


def test_rejections_name_the_most_common_reason() -> None:
    """Five rejections in a hundred events (5% > 1%) name the top reason and point at the dlq command."""
    coverage = full_coverage(95)
    for _ in range(3):
        coverage.observe_failure("orders", "Purchase", failure(Stage.POLICY, "event_too_old"))
    for _ in range(2):
        coverage.observe_failure("orders", "Purchase", failure(Stage.MAP, "mapping_error"))
    (advice,) = texts(coverage)
    assert advice.startswith("Purchase: 5% rejected before sending (most: policy/event_too_old)")
    assert "tiktok-relay dlq" in advice


def test_send_failures_get_their_own_advice() -> None:
    """Dead-letters after sending are reported apart from rejections, with their own top reason."""
    coverage = full_coverage(100)
    for _ in range(5):
        coverage.observe_failure("orders", "Purchase", failure(Stage.SEND, "tiktok_rejected"))
    (advice,) = texts(coverage)
    assert advice.startswith("Purchase: 5% dead-lettered after sending (most: send/tiktok_rejected)")


def test_high_consent_share_explains_the_default() -> None:
    """30% withheld for consent (> 20%) asks to check that consent is recorded, naming the policy key."""
    coverage = full_coverage(70)
    for _ in range(30):
        coverage.observe_withheld(withheld())
    (advice,) = texts(coverage)
    assert advice.startswith("Purchase: 30% withheld for lack of consent")
    assert "policy.unknown_consent" in advice


def test_unparseable_phones_suggest_e164_or_a_default_region() -> None:
    """5 unparseable phones in 100 sent events (> 2%) point at E.164 and policy.phone_default_region."""
    coverage = full_coverage(100)
    for _ in range(5):
        coverage.observe_unparseable("orders", "Purchase", "phone")
    (advice,) = texts(coverage)
    assert advice.startswith("Purchase: 5% had a phone that could not be parsed and was dropped")
    assert "policy.phone_default_region" in advice


def test_nothing_sent_is_said_first() -> None:
    """When every event was withheld, the first line says none were sent."""
    coverage = Coverage()
    for _ in range(MIN_EVENTS):
        coverage.observe_withheld(withheld())
    advice = texts(coverage)
    assert advice[0] == f"Purchase: none of {MIN_EVENTS} events were sent; see the consent and rejection figures."
    assert advice[1].startswith("Purchase: 100% withheld for lack of consent")


def test_few_events_are_flagged_as_indicative() -> None:
    """Below MIN_EVENTS observed events, the advice warns that the shares are noisy."""
    assert texts(full_coverage(MIN_EVENTS - 1)) == [
        f"Purchase: only {MIN_EVENTS - 1} events in the window; the shares above are indicative only."
    ]


def test_an_event_name_on_two_routes_is_labelled_with_its_route() -> None:
    """Two routes sending Purchase are told apart by the route in parentheses."""
    coverage = full_coverage(100, route="shop-a")
    for _ in range(100):
        coverage.observe_outbound(outbound(*ALL, route="shop-b", origin="derived"))
    (advice,) = texts(coverage)
    assert advice.startswith("Purchase (shop-b): only 0% share")


def test_unrouted_records_are_named_as_such() -> None:
    """Advice about failures before routing names them "unrouted records", not "(unknown)"."""
    coverage = full_coverage(100)
    for _ in range(30):
        coverage.observe_failure(None, None, failure(Stage.MAP, "no_route"))
    assert texts(coverage)[0] == "unrouted records: none of 30 events were sent; see the consent and rejection figures."
