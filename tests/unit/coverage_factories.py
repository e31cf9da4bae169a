"""Builders of the model types the coverage tests feed to the accumulator, the metrics and the renderers."""

from __future__ import annotations

import hashlib
from itertools import count
from typing import Any

from consumer.model import (
    ConsentWithheld,
    Destination,
    EventIdOrigin,
    EventSource,
    Failure,
    OutboundEvent,
    Sha256Hex,
    SourceRef,
    Stage,
    TikTokEvent,
    TikTokUser,
)
from consumer.observability.coverage import IDENTIFIERS
from consumer.report.coverage import Coverage, EventCoverage

_offsets = count()


def digest(text: str) -> Sha256Hex:
    return Sha256Hex(hashlib.sha256(text.encode()).hexdigest())


def user_with(*identifiers: str) -> TikTokUser:
    """A user carrying exactly the named identifiers (hashed ones as digests, the rest as plain text)."""
    values: dict[str, Any] = {}
    for name in identifiers:
        values[name] = (digest(name),) if name in ("email", "phone", "external_id") else f"{name}-value"
    return TikTokUser(**values)


def outbound(
    *identifiers: str,
    route: str = "orders",
    event: str = "Purchase",
    origin: EventIdOrigin = "record",
    source: EventSource = EventSource.WEB,
) -> OutboundEvent:
    offset = next(_offsets)
    return OutboundEvent(
        ref=SourceRef("orders", 0, offset),
        route=route,
        destination=Destination(source, "PIXEL1"),
        event=TikTokEvent(event=event, event_time=1_700_000_000, event_id=f"e{offset}", user=user_with(*identifiers)),
        event_id_origin=origin,
    )


def withheld(route: str = "orders", event: str = "Purchase") -> ConsentWithheld:
    offset = next(_offsets)
    return ConsentWithheld(
        ref=SourceRef("orders", 0, offset),
        route=route,
        event=event,
        event_id=f"e{offset}",
        reason="marketing_denied",
        decided_at_ms=0,
    )


def failure(stage: Stage = Stage.POLICY, reason: str = "validation_error", route: str | None = None) -> Failure:
    return Failure(stage=stage, reason=reason, exception_class="EventValidationError", message="bad", route=route)


def sample_rows() -> list[EventCoverage]:
    """Two rows the renderer tests share: web Purchase with 38% phone and 5% ttclid (both under threshold), 70%
    Pixel-shared ids, consent drops and one failure of each kind; and a crm Lead row with no browser identifiers."""
    coverage = Coverage()
    for index in range(100):
        dropped = {"phone"} if index >= 38 else set()
        dropped |= {"ttclid"} if index >= 5 else set()
        identifiers = [name for name in IDENTIFIERS if name not in dropped]
        coverage.observe_outbound(outbound(*identifiers, origin="record" if index < 70 else "derived"))
    for _ in range(8):
        coverage.observe_withheld(withheld())
    coverage.observe_failure("orders", "Purchase", failure(Stage.POLICY, "event_too_old"))
    coverage.observe_failure("orders", "Purchase", failure(Stage.SEND, "tiktok_rejected"))
    coverage.observe_unparseable("orders", "Purchase", "phone")
    for _ in range(30):
        lead = outbound(
            "email", "phone", "external_id", route="crm-leads", event="Lead", origin="derived", source=EventSource.CRM
        )
        coverage.observe_outbound(lead)
    return coverage.rows()
