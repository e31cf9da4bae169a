"""The coverage accumulator: what it counts per (route, event), and the denominators of its shares."""

from __future__ import annotations

from consumer.model import EventIdOrigin, EventSource, Stage, TikTokUser
from consumer.observability.coverage import IDENTIFIERS, UNKNOWN, identifiers_present
from consumer.report.coverage import Coverage, percent
from tests.unit.coverage_factories import failure, outbound, user_with, withheld


def test_identifiers_present_names_only_carried_fields() -> None:
    """Empty tuples and None values are absent; the names come back in IDENTIFIERS order."""
    assert identifiers_present(TikTokUser()) == ()
    assert identifiers_present(user_with("ip", "email", "ttclid")) == ("email", "ttclid", "ip")


def test_identifier_share_is_of_sent_events() -> None:
    """Two of four sent events carry a phone: 50%, and withheld events do not dilute it."""
    coverage = Coverage()
    for identifiers in (("phone", "email"), ("phone",), ("email",), ()):
        coverage.observe_outbound(outbound(*identifiers))
    coverage.observe_withheld(withheld())
    (row,) = coverage.rows()
    assert row.sent == 4
    assert row.identifier_share("phone") == 0.5
    assert row.identifier_share("email") == 0.5
    assert row.identifier_share("ttp") == 0.0


def test_pixel_event_id_share_counts_record_origin() -> None:
    """An event_id taken from the record is Pixel-shared; a derived one is not."""
    coverage = Coverage()
    origins: tuple[EventIdOrigin, ...] = ("record", "record", "record", "derived")
    for origin in origins:
        coverage.observe_outbound(outbound(origin=origin))
    (row,) = coverage.rows()
    assert row.pixel_event_id_share == 0.75
    assert row.event_id_origins == {"record": 3, "derived": 1}


def test_consent_share_is_of_observed_events() -> None:
    """One withheld and three sent events: 25% withheld, and the withheld one is not counted as sent."""
    coverage = Coverage()
    for _ in range(3):
        coverage.observe_outbound(outbound())
    coverage.observe_withheld(withheld())
    (row,) = coverage.rows()
    assert (row.observed, row.sent, row.consent_withheld) == (4, 3, 1)
    assert row.consent_share == 0.25


def test_failure_before_sending_counts_as_rejected() -> None:
    """A map or policy failure rejects the event before it is sent: observed grows, sent does not."""
    coverage = Coverage()
    coverage.observe_outbound(outbound())
    coverage.observe_failure("orders", "Purchase", failure(Stage.POLICY, "event_too_old"))
    (row,) = coverage.rows()
    assert (row.observed, row.sent, row.rejected, row.dead_lettered) == (2, 1, 1, 0)
    assert row.rejected_share == 0.5
    assert row.failure_reasons == {"policy/event_too_old": 1}


def test_send_failure_counts_as_dead_lettered_after_sending() -> None:
    """A send-stage failure follows the event's observe_outbound: it is not observed a second time."""
    coverage = Coverage()
    coverage.observe_outbound(outbound())
    coverage.observe_outbound(outbound())
    coverage.observe_failure("orders", "Purchase", failure(Stage.SEND, "tiktok_rejected"))
    (row,) = coverage.rows()
    assert (row.observed, row.sent, row.rejected, row.dead_lettered) == (2, 2, 0, 1)
    assert row.dead_letter_share == 0.5


def test_failure_without_event_name_goes_to_unknown_row() -> None:
    """A decode failure has no event name yet; its route comes from the Failure when not given."""
    coverage = Coverage()
    coverage.observe_failure(None, None, failure(Stage.DECODE, "unknown_schema", route="orders"))
    coverage.observe_failure(None, None, failure(Stage.DECODE, "unknown_schema"))
    assert [(row.route, row.event) for row in coverage.rows()] == [(UNKNOWN, UNKNOWN), ("orders", UNKNOWN)]


def test_unparseable_share_is_of_sent_events() -> None:
    """Identifiers dropped as unparseable are counted per identifier, as a share of sent events."""
    coverage = Coverage()
    for _ in range(4):
        coverage.observe_outbound(outbound("email"))
    coverage.observe_unparseable("orders", "Purchase", "phone")
    (row,) = coverage.rows()
    assert row.unparseable_share("phone") == 0.25
    assert row.unparseable_share("email") == 0.0


def test_shares_of_no_events_are_none() -> None:
    """A row with only rejected events has no identifier shares (not 0%): nothing was sent."""
    coverage = Coverage()
    coverage.observe_failure("leads", "Lead", failure())
    (row,) = coverage.rows()
    assert row.identifier_share("email") is None
    assert row.pixel_event_id_share is None
    assert row.rejected_share == 1.0


def test_rows_are_per_route_and_event_sorted() -> None:
    """The same event name on two routes makes two rows, ordered by route then event."""
    coverage = Coverage()
    coverage.observe_outbound(outbound(route="shop-b", event="Purchase"))
    coverage.observe_outbound(outbound(route="shop-a", event="Purchase"))
    coverage.observe_outbound(outbound(route="shop-a", event="AddToCart"))
    assert [(row.route, row.event) for row in coverage.rows()] == [
        ("shop-a", "AddToCart"),
        ("shop-a", "Purchase"),
        ("shop-b", "Purchase"),
    ]


def test_web_like_follows_the_event_source() -> None:
    """Browser identifiers matter for web and app rows, not for crm or offline rows."""
    coverage = Coverage()
    coverage.observe_outbound(outbound(route="crm", event="Lead", source=EventSource.CRM))
    coverage.observe_outbound(outbound(route="web", event="Lead", source=EventSource.WEB))
    crm, web = coverage.rows()
    assert not crm.web_like
    assert web.web_like


def test_to_json_lists_every_identifier() -> None:
    """The JSON form has a count and a share for every identifier, present or not."""
    coverage = Coverage()
    coverage.observe_outbound(outbound("email"))
    data = coverage.rows()[0].to_json()
    assert list(data["identifiers"]) == list(IDENTIFIERS)
    assert data["identifier_shares"]["email"] == 1.0
    assert data["identifier_shares"]["phone"] == 0.0


def test_percent_never_rounds_a_few_events_away() -> None:
    """0.4% reads <1% and 99.6% reads >99%, so neither hides a few events; None reads as a dash."""
    assert percent(0.004) == "<1%"
    assert percent(0.996) == ">99%"
    assert percent(0.0) == "0%"
    assert percent(1.0) == "100%"
    assert percent(0.384) == "38%"
    assert percent(None) == "-"


def test_row_names_say_what_is_unknown() -> None:
    """Rows are named "event (route)"; failures before routing or mapping say which part is unknown."""
    coverage = Coverage()
    coverage.observe_outbound(outbound(route="order-paid", event="Purchase"))
    coverage.observe_failure("order-paid", None, failure(Stage.DECODE, "decode_malformed"))
    coverage.observe_failure(None, None, failure(Stage.MAP, "no_route"))
    assert [row.name for row in coverage.rows()] == [
        "unrouted records",
        "order-paid (event unknown)",
        "Purchase (order-paid)",
    ]
