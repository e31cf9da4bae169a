"""The match-quality report for app events: device id coverage (idfa, idfv, gaid) and ATT status of sent events,
from the accumulator and read back from the service's metrics alike."""

from __future__ import annotations

import uuid

from prometheus_client import generate_latest

from consumer.model import EventSource, OutboundEvent
from consumer.observability.coverage import CoverageTally
from consumer.observability.metrics import REGISTRY
from consumer.report.advice import advise
from consumer.report.coverage import Coverage
from consumer.report.render_html import render_html
from consumer.report.render_text import render_text
from consumer.report.scrape import add_metrics
from tests.unit.coverage_factories import outbound


def app_event(*identifiers: str, att_status: str | None, route: str = "app-orders") -> OutboundEvent:
    event = outbound("email", *identifiers, route=route, source=EventSource.APP)
    return event._replace(event=event.event._replace(user=event.event.user._replace(att_status=att_status)))


def app_events(route: str = "app-orders") -> list[OutboundEvent]:
    """Four app orders: two iPhones with an IDFA (one AUTHORIZED), one without ATT authorisation, one Android."""
    return [
        app_event("idfa", "idfv", att_status="AUTHORIZED", route=route),
        app_event("idfa", "idfv", att_status="AUTHORIZED", route=route),
        app_event("idfv", att_status="DENIED", route=route),
        app_event("gaid", att_status=None, route=route),
    ]


def app_coverage(route: str = "app-orders") -> Coverage:
    coverage = Coverage()
    for event in app_events(route):
        coverage.observe_outbound(event)
    coverage.observe_outbound(outbound("email", "idfa", route="web-orders"))  # not an app row
    return coverage


def test_app_row_counts_device_ids_and_att_status() -> None:
    """Shares of sent app events carrying each device id, and the ATT statuses they reported."""
    [row] = [row for row in app_coverage().rows() if row.route == "app-orders"]
    assert row.app
    assert [row.identifier_share(name) for name in ("idfa", "idfv", "gaid")] == [0.5, 0.75, 0.25]
    assert dict(row.att_statuses) == {"AUTHORIZED": 2, "DENIED": 1}
    data = row.to_json()
    assert data["device_ids"] == {"idfa": 2, "idfv": 3, "gaid": 1}
    assert data["att_statuses"] == {"AUTHORIZED": 2, "DENIED": 1}


def test_text_report_has_an_app_section_for_app_rows_only() -> None:
    """The text report lists device id coverage and ATT status for each app row, and for no other row."""
    rows = app_coverage().rows()
    text = render_text("heading", rows, advise(rows))
    section = text.split("App events: device ids and ATT status (shares of sent events):\n", 1)[1]
    lines = section.split("\n\n", 1)[0].splitlines()
    assert lines == [
        "  Purchase (app-orders): idfa 50%, idfv 75%, gaid 25%; att_status AUTHORIZED 50%, DENIED 25%, none 25%"
    ]


def test_html_report_shows_the_app_line_in_the_rows_section() -> None:
    rows = app_coverage().rows()
    html = render_html("heading", rows, advise(rows))
    assert '<p class="app-devices">idfa 50%, idfv 75%, gaid 25%; att_status AUTHORIZED 50%, DENIED 25%' in html
    assert html.count('class="app-devices"') == 1


def test_metrics_read_back_give_the_same_app_figures() -> None:
    """What the service records per app event reads back into the same device id and ATT counts."""
    route = f"app-{uuid.uuid4().hex[:8]}"
    tally = CoverageTally()
    for event in app_events(route):
        tally.add(event)
    tally.flush()
    from_metrics = Coverage()
    add_metrics(from_metrics, generate_latest(REGISTRY).decode())
    [row] = [row for row in from_metrics.rows() if row.route == route]
    [expected] = [row for row in app_coverage(route).rows() if row.route == route]
    assert row.to_json() == expected.to_json()


def test_cookie_and_click_id_do_not_apply_to_app_events() -> None:
    """An app has no _ttp cookie and no landing URL: ttp and ttclid read n/a on app rows and get no advice, while
    ip and user agent still apply."""
    rows = app_coverage().rows()
    text = render_text("heading", rows, advise(rows))
    app_line = next(line for line in text.splitlines() if line.startswith("app-orders"))
    assert app_line.split()[7:11] == ["n/a", "n/a", "0%", "0%"]  # ttclid, ttp, ip, ua
    advice = [item.text for item in advise(rows) if item.route == "app-orders"]
    assert not [text for text in advice if "ttp" in text or "ttclid" in text]
    assert [text for text in advice if "carry ip" in text]
