"""The coverage report as one self-contained HTML file: inline CSS and inline SVG bar charts, no script, nothing
fetched from the network, so it opens the same from a laptop, a CI artifact or an air-gapped bastion."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from consumer.observability.coverage import IDENTIFIERS
from consumer.report.advice import MIN_IDENTIFIER_SHARE, Advice, identifier_applies, identifier_below_threshold
from consumer.report.coverage import EventCoverage, percent
from consumer.report.render_text import SHORT_NAMES, TABLE_NOTE, device_summary, failure_summary, identifier_cell

CHART_WIDTH = 720
LABEL_WIDTH = 110
VALUE_WIDTH = 60
BAR_AREA = CHART_WIDTH - LABEL_WIDTH - VALUE_WIDTH
ROW_HEIGHT = 24
BAR_HEIGHT = 16

STYLE = """
body { font-family: "Liberation Sans", Arial, sans-serif; margin: 24px; color: #1d2327; background: #ffffff; }
h1 { font-size: 24px; margin: 0 0 4px 0; }
p.heading { color: #50575e; margin: 0 0 16px 0; }
table { border-collapse: collapse; font-size: 13px; margin-bottom: 16px; }
th, td { border: 1px solid #c3c4c7; padding: 4px 8px; text-align: right; }
th { background: #f0f0f1; }
td.name { text-align: left; }
p.note { color: #50575e; font-size: 12px; }
p.failures { font-size: 13px; margin: 4px 0; }
td.low { background: #fcf0e3; color: #8a2c00; font-weight: bold; }
ul#advice li { margin-bottom: 4px; }
section.event { border: 1px solid #dcdcde; border-radius: 6px; padding: 8px 16px; margin-bottom: 16px; }
section.event h3 { margin: 4px 0 8px 0; }
svg text { font-size: 12px; fill: #1d2327; }
svg text.title { font-weight: bold; }
rect.track { fill: #f0f0f1; }
rect.ok { fill: #2e7d32; }
rect.low { fill: #e65100; }
rect.na { fill: #a7aaad; }
rect.accepted { fill: #2e7d32; }
rect.dead_lettered { fill: #b32d2e; }
rect.consent { fill: #8c8f94; }
rect.rejected { fill: #dba617; }
rect.pixel { fill: #2271b1; }
rect.derived { fill: #9ec2e6; }
line.threshold { stroke: #1d2327; stroke-width: 1; stroke-dasharray: 3 2; }
"""


def _cell(text: str, css: str = "") -> str:
    return f'<td class="{css}">{escape(text)}</td>' if css else f"<td>{escape(text)}</td>"


def _table(rows: Sequence[EventCoverage]) -> str:
    heads = ["route", "event", "observed", "sent", *(SHORT_NAMES.get(name, name) for name in IDENTIFIERS)]
    heads += ["pixel_id", "consent", "rejected", "dlq"]
    body = []
    for row in rows:
        cells = [_cell(row.route, "name"), _cell(row.event, "name"), _cell(str(row.observed)), _cell(str(row.sent))]
        cells += [
            _cell(identifier_cell(row, name), "low" if identifier_below_threshold(row, name) else "")
            for name in IDENTIFIERS
        ]
        cells += [
            _cell(percent(value))
            for value in (row.pixel_event_id_share, row.consent_share, row.rejected_share, row.dead_letter_share)
        ]
        body.append(
            f'<tr class="coverage-row" data-route="{escape(row.route)}" data-event="{escape(row.event)}">'
            + "".join(cells)
            + "</tr>"
        )
    head = "".join(f"<th>{escape(name)}</th>" for name in heads)
    return (
        f'<table id="coverage"><thead><tr>{head}</tr></thead><tbody>{"".join(body)}</tbody></table>'
        f'<p class="note">{escape(TABLE_NOTE)}</p>'
    )


def _identifier_chart(row: EventCoverage) -> str:
    """One horizontal bar per identifier (share of sent events), orange when under its advice threshold, with a
    dashed tick at the threshold."""
    height = ROW_HEIGHT * (len(IDENTIFIERS) + 1)
    parts = [
        f'<svg class="chart identifiers" width="{CHART_WIDTH}" height="{height}" role="img" '
        f'aria-label="identifier coverage of {escape(row.name)}">',
        '<text class="title" x="0" y="14">Identifiers (share of sent events; dashed: advice threshold)</text>',
    ]
    for index, name in enumerate(IDENTIFIERS, start=1):
        y = index * ROW_HEIGHT
        value = row.identifier_share(name)
        if value is None or not identifier_applies(row, name):
            state = "na"
        else:
            state = "low" if identifier_below_threshold(row, name) else "ok"
        width = round(BAR_AREA * (value or 0))
        threshold_x = LABEL_WIDTH + round(BAR_AREA * MIN_IDENTIFIER_SHARE[name])
        parts += [
            f'<text x="0" y="{y + 12}">{escape(name)}</text>',
            f'<rect class="track" x="{LABEL_WIDTH}" y="{y}" width="{BAR_AREA}" height="{BAR_HEIGHT}"/>',
            f'<rect class="bar {state}" data-identifier="{name}" x="{LABEL_WIDTH}" y="{y}" width="{width}" '
            f'height="{BAR_HEIGHT}"/>',
            f'<line class="threshold" x1="{threshold_x}" y1="{y - 2}" x2="{threshold_x}" y2="{y + BAR_HEIGHT + 2}"/>',
            f'<text x="{LABEL_WIDTH + BAR_AREA + 8}" y="{y + 12}">{identifier_cell(row, name)}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def _stacked_chart(css: str, title: str, segments: Sequence[tuple[str, str, int]]) -> str:
    """One bar split into (css class, label, count) segments, with a legend of counts below it."""
    total = sum(count for _, _, count in segments)
    parts = [
        f'<svg class="chart {css}" width="{CHART_WIDTH}" height="{ROW_HEIGHT * 3}" role="img" '
        f'aria-label="{escape(title)}">',
        f'<text class="title" x="0" y="14">{escape(title)}</text>',
        f'<rect class="track" x="0" y="{ROW_HEIGHT}" width="{CHART_WIDTH}" height="{BAR_HEIGHT}"/>',
    ]
    x = 0
    for segment_css, _, count in segments:
        width = round(CHART_WIDTH * count / total) if total else 0
        parts.append(
            f'<rect class="bar {segment_css}" x="{x}" y="{ROW_HEIGHT}" width="{width}" height="{BAR_HEIGHT}"/>'
        )
        x += width
    slot = CHART_WIDTH // len(segments)
    for index, (segment_css, label, count) in enumerate(segments):
        legend_x = index * slot
        parts += [
            f'<rect class="{segment_css}" x="{legend_x}" y="{ROW_HEIGHT * 2 + 4}" width="10" height="10"/>',
            f'<text x="{legend_x + 14}" y="{ROW_HEIGHT * 2 + 13}">{escape(f"{label}: {count}")}</text>',
        ]
    parts.append("</svg>")
    return "".join(parts)


def _event_section(row: EventCoverage) -> str:
    """The row's charts: identifiers and event-id origin of sent events (when any were sent), and outcomes."""
    outcomes = [
        ("accepted", "sent, not dead-lettered", row.sent - row.dead_lettered),
        ("dead_lettered", "dead-lettered", row.dead_lettered),
        ("consent", "consent-withheld", row.consent_withheld),
        ("rejected", "rejected", row.rejected),
    ]
    origins = [
        ("pixel", "shared with Pixel", row.event_id_origins["record"]),
        ("derived", "derived", row.event_id_origins["derived"]),
    ]
    return (
        f'<section class="event" data-route="{escape(row.route)}" data-event="{escape(row.event)}">'
        f"<h3>{escape(row.name)}</h3>"
        + (_identifier_chart(row) if row.sent else "")
        + (f'<p class="app-devices">{escape(device_summary(row))}</p>' if row.app and row.sent else "")
        + _stacked_chart(
            "outcomes", "Outcome of observed events (dead-lettered after sending, rejected before)", outcomes
        )
        + (_stacked_chart("event-id", "event_id origin of sent events", origins) if row.sent else "")
        + (
            f'<p class="failures">Failures by stage/reason: {escape(failure_summary(row))}</p>'
            if row.failure_reasons
            else ""
        )
        + "</section>"
    )


def render_html(heading: str, rows: Sequence[EventCoverage], advice: Sequence[Advice]) -> str:
    """The whole report page: the coverage table, the advice, and one section of charts per row."""
    advice_items = "".join(f"<li>{escape(item.text)}</li>" for item in advice) or (
        "<li>None: coverage meets every threshold.</li>"
    )
    table = _table(rows) if rows else "<p>No events in the window.</p>"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        "<title>TikTok Events relay: match-quality report</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>Match-quality report</h1>"
        f'<p class="heading">{escape(heading)}</p>'
        f"<h2>Coverage</h2>{table}"
        f'<h2>Advice</h2><ul id="advice">{advice_items}</ul>'
        "<h2>Per event</h2>" + "".join(_event_section(row) for row in rows) + "</body></html>\n"
    )
