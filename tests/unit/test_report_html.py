"""The HTML report's structure, read with the stdlib parser: self-contained, escaped, one chart per row.
(tests/unit/test_report_html_browser.py renders it in a real browser.)"""

from __future__ import annotations

from html.parser import HTMLParser

from consumer.model import Stage
from consumer.observability.coverage import IDENTIFIERS
from consumer.report.advice import advise
from consumer.report.coverage import Coverage
from consumer.report.render_html import BAR_AREA, render_html
from tests.unit.coverage_factories import failure, outbound, sample_rows

Element = tuple[str, dict[str, str]]


class ElementCollector(HTMLParser):
    """Every start tag with its attributes, in document order, plus the text."""

    def __init__(self) -> None:
        super().__init__()
        self.elements: list[Element] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.elements.append((tag, {name: value or "" for name, value in attrs}))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def parse(page: str) -> ElementCollector:
    collector = ElementCollector()
    collector.feed(page)
    collector.close()
    return collector


def sample_page() -> ElementCollector:
    rows = sample_rows()
    return parse(render_html("orders, crm-leads: last 24 h", rows, advise(rows)))


def test_page_fetches_nothing() -> None:
    """No script, no stylesheet link, no image or other source attribute: the file is self-contained."""
    page = sample_page()
    tags = {tag for tag, _ in page.elements}
    assert not tags & {"script", "link", "img", "iframe", "object", "embed"}
    assert not [attrs for _, attrs in page.elements if "src" in attrs or "href" in attrs]


def test_one_table_row_and_one_chart_section_per_coverage_row() -> None:
    """Each (route, event) has a table row and a section with identifier, outcome and event-id charts."""
    page = sample_page()
    table_rows = [attrs for tag, attrs in page.elements if attrs.get("class") == "coverage-row"]
    assert [(attrs["data-route"], attrs["data-event"]) for attrs in table_rows] == [
        ("crm-leads", "Lead"),
        ("orders", "Purchase"),
    ]
    charts = [attrs["class"] for tag, attrs in page.elements if tag == "svg"]
    assert charts == ["chart identifiers", "chart outcomes", "chart event-id"] * 2


def test_identifier_bar_width_is_the_share() -> None:
    """The phone bar of Purchase (38%) is 38% of the bar area wide and marked low; email (100%) is full and ok."""
    page = sample_page()
    bars = [attrs for tag, attrs in page.elements if tag == "rect" and "data-identifier" in attrs]
    assert len(bars) == 2 * len(IDENTIFIERS)
    purchase = {attrs["data-identifier"]: attrs for attrs in bars[len(IDENTIFIERS) :]}
    assert purchase["phone"]["width"] == str(round(BAR_AREA * 0.38))
    assert purchase["phone"]["class"] == "bar low"
    assert purchase["email"]["width"] == str(BAR_AREA)
    assert purchase["email"]["class"] == "bar ok"


def test_browser_identifiers_of_crm_rows_are_grey() -> None:
    """On the crm Lead row, ttclid, ttp, ip and user agent bars are 'na', not flagged low."""
    page = sample_page()
    bars = [attrs for tag, attrs in page.elements if tag == "rect" and "data-identifier" in attrs]
    lead = {attrs["data-identifier"]: attrs["class"] for attrs in bars[: len(IDENTIFIERS)]}
    assert lead == {"email": "bar ok", "phone": "bar ok", "external_id": "bar ok", "ttclid": "bar na",
                    "ttp": "bar na", "ip": "bar na", "user_agent": "bar na"}  # fmt: skip


def test_advice_is_listed() -> None:
    """The advice sentences appear as list items."""
    rows = sample_rows()
    page = parse(render_html("window", rows, advise(rows)))
    assert "Purchase: 38% carry phone; add phone to the event to raise match quality." in page.text


def test_names_are_escaped() -> None:
    """A route or event name with markup characters is text, never markup."""
    event = outbound("email", route="<b>r</b>", event='Buy"<script>')
    coverage = Coverage()
    coverage.observe_outbound(event)
    page_text = render_html("<i>window</i>", coverage.rows(), [])
    page = parse(page_text)
    assert not {tag for tag, _ in page.elements} & {"b", "i", "script"}
    assert "<b>r</b>" in page.text
    assert 'Buy"<script>' in "".join(page.text)


def test_failures_are_summarised_in_the_event_section() -> None:
    """The Purchase section names its failures by stage/reason."""
    rows = sample_rows()
    page = parse(render_html("window", rows, advise(rows)))
    assert "Failures by stage/reason: policy/event_too_old 1, send/tiktok_rejected 1" in page.text


def test_row_with_nothing_sent_has_only_the_outcome_chart() -> None:
    """Identifier and event-id charts of a row that sent nothing would be empty: only the outcomes are drawn."""
    coverage = Coverage()
    coverage.observe_failure(None, None, failure(Stage.MAP, "no_route"))
    page = parse(render_html("window", coverage.rows(), []))
    assert [attrs["class"] for tag, attrs in page.elements if tag == "svg"] == ["chart outcomes"]
