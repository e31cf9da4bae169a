"""The coverage table and advice as plain text for a terminal."""

from __future__ import annotations

from collections.abc import Sequence

from consumer.observability.coverage import DEVICE_IDS, IDENTIFIERS
from consumer.report.advice import Advice, identifier_applies
from consumer.report.coverage import EventCoverage, percent, share

SHORT_NAMES: dict[str, str] = {"external_id": "ext_id", "user_agent": "ua"}
"""Column headings that would otherwise make the table too wide for a terminal."""
TABLE_NOTE = (
    "Identifier and pixel_id columns: share of sent events; consent, rejected and dlq: share of observed events; "
    "n/a: a browser identifier on a crm/offline event, or ttclid/ttp on an app event."
)


def identifier_cell(row: EventCoverage, identifier: str) -> str:
    """The share of sent events carrying ``identifier``, or n/a where it cannot apply to the row's events."""
    return percent(row.identifier_share(identifier)) if identifier_applies(row, identifier) else "n/a"


def _header() -> list[str]:
    identifiers = [SHORT_NAMES.get(name, name) for name in IDENTIFIERS]
    return ["route", "event", "observed", "sent", *identifiers, "pixel_id", "consent", "rejected", "dlq"]


def _cells(row: EventCoverage) -> list[str]:
    identifiers = [identifier_cell(row, name) for name in IDENTIFIERS]
    return [
        row.route,
        row.event,
        str(row.observed),
        str(row.sent),
        *identifiers,
        percent(row.pixel_event_id_share),
        percent(row.consent_share),
        percent(row.rejected_share),
        percent(row.dead_letter_share),
    ]


def _unparseable_lines(rows: Sequence[EventCoverage]) -> list[str]:
    return [
        f"  {row.name}: {identifier} {count} ({percent(row.unparseable_share(identifier))} of sent)"
        for row in rows
        for identifier, count in sorted(row.unparseable.items())
    ]


def failure_summary(row: EventCoverage) -> str:
    """``policy/event_too_old 2, decode/decode_malformed 1``: the row's failures by stage and reason, most first."""
    return ", ".join(f"{reason} {count}" for reason, count in row.failure_reasons.most_common())


def device_summary(row: EventCoverage) -> str:
    """``idfa 50%, idfv 75%, gaid 25%; att_status AUTHORIZED 50%, none 25%``: an app row's device id shares and ATT
    statuses, as shares of its sent events."""
    ids = ", ".join(f"{name} {percent(row.identifier_share(name))}" for name in DEVICE_IDS)
    statuses = [(status, count) for status, count in row.att_statuses.most_common()]
    statuses.append(("none", row.sent - sum(row.att_statuses.values())))
    att = ", ".join(f"{status} {percent(share(count, row.sent))}" for status, count in statuses if count)
    return f"{ids}; att_status {att}"


def _app_lines(rows: Sequence[EventCoverage]) -> list[str]:
    return [f"  {row.name}: {device_summary(row)}" for row in rows if row.app and row.sent]


def _failure_lines(rows: Sequence[EventCoverage]) -> list[str]:
    return [f"  {row.name}: {failure_summary(row)}" for row in rows if row.failure_reasons]


def format_table(table: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell; the first two (names) left-aligned, figures right-aligned."""
    widths = [max(len(line[col]) for line in table) for col in range(len(table[0]))]
    lines = []
    for line in table:
        cells = [
            cell.ljust(width) if col < 2 else cell.rjust(width)
            for col, (cell, width) in enumerate(zip(line, widths, strict=True))
        ]
        lines.append("  ".join(cells).rstrip())
    return "\n".join(lines)


def render_text(heading: str, rows: Sequence[EventCoverage], advice: Sequence[Advice]) -> str:
    """The heading, the coverage table (identifier and Pixel-id shares of sent events; consent, rejected and
    dead-letter shares of observed events), failures by reason and unparseable identifiers if any, then the
    advice."""
    parts = [heading, ""]
    if rows:
        parts += [format_table([_header(), *(_cells(row) for row in rows)]), TABLE_NOTE]
    else:
        parts.append("No events in the window.")
    failures = _failure_lines(rows)
    if failures:
        parts += ["", "Rejected or dead-lettered, by stage/reason:", *failures]
    apps = _app_lines(rows)
    if apps:
        parts += ["", "App events: device ids and ATT status (shares of sent events):", *apps]
    unparseable = _unparseable_lines(rows)
    if unparseable:
        parts += ["", "Identifiers dropped as unparseable:", *unparseable]
    parts += ["", "Advice:" if advice else "Advice: none, coverage meets every threshold."]
    parts += [f"  - {item.text}" for item in advice]
    return "\n".join(parts) + "\n"
