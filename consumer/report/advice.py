"""Plain-language advice from coverage rows: pure rules with documented thresholds.

Each rule looks at one row and may say one sentence that names the event, the figure and what to do. The
thresholds are judgement calls, written down here (and in docs/report.md) so an operator can see why a line
appeared:

==========================  =========  =====================================================================
rule                        threshold  reasoning
==========================  =========  =====================================================================
rejected before sending     > 1%       map/policy/decode failures are data bugs; any steady share is worth a look
dead-lettered after send    > 1%       TikTok rejected them or retries ran out; see ``tiktok-relay dlq``
Pixel-shared event_id       < 90%      web/app only: a derived id cannot deduplicate against the Pixel
email, phone                < 80%      the strongest match keys; order and lead events usually know both
external_id                 < 50%      links server events to logged-in Pixel events
ip, user_agent              < 90%      web/app only: TikTok uses both for browser matching
ttp (``_ttp`` cookie)       < 50%      web only: present for every Pixel visitor who allowed cookies
ttclid                      < 10%      web only: only ad-click visits have one, so only a very low share
                                       points at a click id lost between landing page and order
identifier unparseable      > 2%       the record had a value that normalisation had to drop
withheld for consent        > 20%      expected where users decline; a high share often means unrecorded consent
fewer than 20 events        -          shares of a handful of events are noisy
==========================  =========  =====================================================================
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

from consumer.observability.coverage import UNKNOWN
from consumer.report.coverage import EventCoverage, percent

MAX_REJECTED_SHARE = 0.01
MAX_DEAD_LETTER_SHARE = 0.01
MIN_PIXEL_EVENT_ID_SHARE = 0.90
MIN_IDENTIFIER_SHARE: dict[str, float] = {
    "email": 0.80,
    "phone": 0.80,
    "external_id": 0.50,
    "ip": 0.90,
    "user_agent": 0.90,
    "ttp": 0.50,
    "ttclid": 0.10,
}
BROWSER_IDENTIFIERS = frozenset({"ip", "user_agent", "ttp", "ttclid"})
"""Identifiers only a browser or app context has; rules about them apply to web/app rows only."""
WEB_ONLY_IDENTIFIERS = frozenset({"ttp", "ttclid"})
"""The Pixel's cookie and the landing URL's click id: an app has neither, so they do not apply to app rows."""
MAX_UNPARSEABLE_SHARE = 0.02
MAX_CONSENT_SHARE = 0.20
MIN_EVENTS = 20

HOW_TO_ADD: dict[str, str] = {
    "email": "add the customer's email to the event",
    "phone": "add phone to the event",
    "external_id": "send your customer id as external_id (hashed the same way the Pixel hashes it)",
    "ip": "forward the browser's IP address with the order",
    "user_agent": "forward the browser's user agent with the order",
    "ttp": "forward the _ttp cookie value as ttp",
    "ttclid": "keep the ttclid from the landing URL (or its cookie) and pass it with the event",
}
HOW_TO_PARSE: dict[str, str] = {
    "phone": "store phones in E.164 (+country code) or set policy.phone_default_region",
    "email": "check how the source system validates email addresses",
}


@dataclass(frozen=True, slots=True)
class Advice:
    """One sentence about one row."""

    route: str
    event: str
    text: str


Rule = Callable[[EventCoverage, str], Iterator[str]]


def _top_reason(row: EventCoverage, stage_filter: Callable[[str], bool]) -> str:
    reasons = [(reason, count) for reason, count in row.failure_reasons.most_common() if stage_filter(reason)]
    return f" (most: {reasons[0][0]})" if reasons else ""


def _nothing_sent(row: EventCoverage, label: str) -> Iterator[str]:
    if row.observed and not row.sent:
        yield f"{label}: none of {row.observed} events were sent; see the consent and rejection figures."


def _rejected(row: EventCoverage, label: str) -> Iterator[str]:
    value = row.rejected_share
    if value is not None and value > MAX_REJECTED_SHARE:
        reason = _top_reason(row, lambda name: not name.startswith("send/"))
        yield (
            f"{label}: {percent(value)} rejected before sending{reason}; inspect them with `tiktok-relay dlq` "
            "and fix the mapping or the source data."
        )


def _dead_lettered(row: EventCoverage, label: str) -> Iterator[str]:
    value = row.dead_letter_share
    if value is not None and value > MAX_DEAD_LETTER_SHARE:
        reason = _top_reason(row, lambda name: name.startswith("send/"))
        yield f"{label}: {percent(value)} dead-lettered after sending{reason}; inspect them with `tiktok-relay dlq`."


def _pixel_event_id(row: EventCoverage, label: str) -> Iterator[str]:
    value = row.pixel_event_id_share
    if row.web_like and value is not None and value < MIN_PIXEL_EVENT_ID_SHARE:
        yield (
            f"{label}: only {percent(value)} share their event_id with the Pixel; pass the Pixel's event_id "
            "through the domain event so TikTok can deduplicate browser and server events."
        )


def identifier_applies(row: EventCoverage, identifier: str) -> bool:
    """Whether TikTok can expect ``identifier`` on the row's events: browser identifiers only on web/app rows, the
    Pixel cookie and click id not on app rows."""
    if row.app and identifier in WEB_ONLY_IDENTIFIERS:
        return False
    return row.web_like or identifier not in BROWSER_IDENTIFIERS


def identifier_below_threshold(row: EventCoverage, identifier: str) -> bool:
    """True when the identifier applies to the row and the row's share of it is under its threshold."""
    if not identifier_applies(row, identifier):
        return False
    value = row.identifier_share(identifier)
    return value is not None and value < MIN_IDENTIFIER_SHARE[identifier]


def _identifiers(row: EventCoverage, label: str) -> Iterator[str]:
    for identifier in MIN_IDENTIFIER_SHARE:
        if identifier_below_threshold(row, identifier):
            value = percent(row.identifier_share(identifier))
            yield f"{label}: {value} carry {identifier}; {HOW_TO_ADD[identifier]} to raise match quality."


def _unparseable(row: EventCoverage, label: str) -> Iterator[str]:
    for identifier in sorted(row.unparseable):
        value = row.unparseable_share(identifier)
        if value is not None and value > MAX_UNPARSEABLE_SHARE:
            fix = HOW_TO_PARSE.get(identifier, "check the source data")
            yield f"{label}: {percent(value)} had a {identifier} that could not be parsed and was dropped; {fix}."


def _consent(row: EventCoverage, label: str) -> Iterator[str]:
    value = row.consent_share
    if value is not None and value > MAX_CONSENT_SHARE:
        yield (
            f"{label}: {percent(value)} withheld for lack of consent; expected where users decline, but check "
            "that consent is recorded (unknown consent is denied unless policy.unknown_consent is grant)."
        )


def _few_events(row: EventCoverage, label: str) -> Iterator[str]:
    if row.observed < MIN_EVENTS:
        yield f"{label}: only {row.observed} events in the window; the shares above are indicative only."


RULES: tuple[Rule, ...] = (
    _nothing_sent,
    _rejected,
    _dead_lettered,
    _pixel_event_id,
    _identifiers,
    _unparseable,
    _consent,
    _few_events,
)
"""Applied in this order, so the most consequential advice for a row comes first."""


def _labels(rows: Sequence[EventCoverage]) -> dict[tuple[str, str], str]:
    """The event name alone when one route sends it, else the row's full name."""
    routes_per_event = Counter(row.event for row in rows if row.event != UNKNOWN)
    return {(row.route, row.event): row.event if routes_per_event[row.event] == 1 else row.name for row in rows}


def advise(rows: Sequence[EventCoverage]) -> list[Advice]:
    """Every rule's advice for every row, rows in the given order, rules in ``RULES`` order."""
    labels = _labels(rows)
    return [
        Advice(route=row.route, event=row.event, text=text)
        for row in rows
        for rule in RULES
        for text in rule(row, labels[(row.route, row.event)])
    ]
