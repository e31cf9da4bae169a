"""The plain-text report: the coverage table, unparseable identifiers and the advice list."""

from __future__ import annotations

from consumer.report.advice import advise
from consumer.report.render_text import format_table, render_text
from tests.unit.coverage_factories import sample_rows


def test_table_has_one_line_per_row_with_its_shares() -> None:
    """The Purchase line shows 38% phone, 5% ttclid and 70% Pixel-shared ids; columns line up under the header."""
    rows = sample_rows()
    lines = render_text("Coverage", rows, advise(rows)).splitlines()
    header = next(line for line in lines if line.startswith("route"))
    purchase = next(line for line in lines if line.startswith("orders"))
    assert purchase.split() == ["orders", "Purchase", "109", "100", "100%", "38%", "100%", "5%", "100%", "100%",
                                "100%", "70%", "7%", "<1%", "<1%"]  # fmt: skip
    assert len(header) == len(purchase)


def test_browser_identifiers_read_na_on_crm_rows() -> None:
    """A crm row shows n/a, not 0%, for ttclid, ttp, ip and user agent."""
    rows = sample_rows()
    lead = next(line for line in render_text("Coverage", rows, []).splitlines() if line.startswith("crm-leads"))
    assert lead.split()[4:11] == ["100%", "100%", "100%", "n/a", "n/a", "n/a", "n/a"]


def test_unparseable_identifiers_are_listed() -> None:
    """The phone dropped as unparseable is listed with its count and share of sent events."""
    rows = sample_rows()
    assert "  Purchase (orders): phone 1 (1% of sent)" in render_text("Coverage", rows, []).splitlines()


def test_advice_follows_the_table_as_a_list() -> None:
    """Each advice sentence is one bullet line after the Advice heading."""
    rows = sample_rows()
    lines = render_text("Coverage", rows, advise(rows)).splitlines()
    bullets = lines[lines.index("Advice:") + 1 :]
    assert bullets == [f"  - {item.text}" for item in advise(rows)]
    assert "  - Purchase: 38% carry phone; add phone to the event to raise match quality." in bullets


def test_empty_window_says_so() -> None:
    """No rows: the report says there were no events and gives no advice."""
    text = render_text("Coverage", [], [])
    assert "No events in the window." in text
    assert "Advice: none, coverage meets every threshold." in text


def test_format_table_aligns_names_left_and_figures_right() -> None:
    """The first two columns are padded on the right, the others on the left."""
    assert format_table([["a", "bb", "1"], ["ccc", "d", "100"]]) == "a    bb    1\nccc  d   100"


def test_failures_are_listed_by_stage_and_reason() -> None:
    """Each row with failures lists them by stage/reason with their counts."""
    rows = sample_rows()
    lines = render_text("Coverage", rows, []).splitlines()
    assert "Rejected or dead-lettered, by stage/reason:" in lines
    assert "  Purchase (orders): policy/event_too_old 1, send/tiktok_rejected 1" in lines
