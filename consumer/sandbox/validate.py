"""Request validation as TikTok does it, pure and cheap: one pass of plain loops over an orjson-parsed body.

Each check returns None or the 40002 message naming the offending field, e.g.
``Invalid value for data[3].event_id: not a valid string.``
"""

from __future__ import annotations

import re
from collections.abc import Collection
from typing import Any

EVENT_SOURCES = frozenset({"web", "app", "offline", "crm"})
MAX_EVENTS = 1000
HASHED_USER_FIELDS = ("email", "phone", "external_id")
DEVICE_ID_FIELDS = ("idfa", "idfv", "gaid")
ATT_STATUSES = frozenset({"AUTHORIZED", "DENIED", "NOT_DETERMINED", "RESTRICTED", "NOT_APPLICABLE"})
"""``user.att_status`` values, as TikTok-built integrations enumerate them (inferred: L)."""
MAX_EVENT_TIME_S = 10**11  # beyond year 5000 in seconds: a millisecond timestamp, TikTok wants seconds
_HEX64 = re.compile(r"[0-9a-fA-F]{64}")


def _invalid(field: str, why: str) -> str:
    return f"Invalid value for {field}: {why}."


def validate_envelope(body: Any) -> str | None:  # noqa: PLR0911 - one exit per rule reads best
    """Top-level fields: ``event_source``, ``event_source_id``, ``data`` (1..1000), optional string extras."""
    if not isinstance(body, dict):
        return "Invalid request body: not a JSON object."
    if body.get("event_source") not in EVENT_SOURCES:
        return _invalid("event_source", "must be one of web, app, offline, crm")
    event_source_id = body.get("event_source_id")
    if not isinstance(event_source_id, str) or not event_source_id:
        return _invalid("event_source_id", "not a valid string")
    for name in ("test_event_code", "partner_name"):
        if name in body and not isinstance(body[name], str):
            return _invalid(name, "not a valid string")
    data = body.get("data")
    if not isinstance(data, list) or not data:
        return _invalid("data", "must be a non-empty array of events")
    if len(data) > MAX_EVENTS:
        return _invalid("data", f"at most {MAX_EVENTS} events per request, got {len(data)}")
    return None


def validate_events(event_source: str, data: list[Any], rejected_ids: Collection[str] = ()) -> str | None:
    """Every event of ``data``; ``rejected_ids`` are event_ids to refuse anyway (fault injection)."""
    for index, event in enumerate(data):
        error = _validate_event(event, event_source)
        if error is not None:
            return _invalid(f"data[{index}].{error[0]}" if error[0] else f"data[{index}]", error[1])
        if rejected_ids and event.get("event_id") in rejected_ids:
            return _invalid(f"data[{index}].event_id", "rejected by the sandbox")
    return None


def _validate_event(event: Any, event_source: str) -> tuple[str, str] | None:  # noqa: PLR0911 - one exit per rule
    """(field, why) of the first problem in one event, or None."""
    if not isinstance(event, dict):
        return "", "not an object"
    name = event.get("event")
    if not isinstance(name, str) or not name:
        return "event", "not a valid string"
    event_time = event.get("event_time")
    if type(event_time) is not int:
        return "event_time", "not an integer Unix time in seconds"
    if not 0 < event_time < MAX_EVENT_TIME_S:
        return "event_time", "not a Unix time in seconds"
    event_id = event.get("event_id")
    if event_id is not None and not isinstance(event_id, str):
        return "event_id", "not a valid string"
    user = event.get("user")
    if user is not None:
        error = _validate_user(user)
        if error is not None:
            return error
    properties = event.get("properties")
    if properties is not None:
        error = _validate_properties(properties)
        if error is not None:
            return error
    if event_source == "crm":
        lead = event.get("lead")
        lead_id = lead.get("lead_id") if isinstance(lead, dict) else None
        if not isinstance(lead_id, str) or not lead_id:
            return "lead.lead_id", "required for event_source crm"
    if event_source == "app":
        return _validate_app(event)
    return None


def _validate_app(event: dict[str, Any]) -> tuple[str, str] | None:
    """An app event names its app (``app.app_id``, a string); ``ad.callback`` is a string when present."""
    app = event.get("app")
    app_id = app.get("app_id") if isinstance(app, dict) else None
    if not isinstance(app_id, str) or not app_id:
        return "app.app_id", "required for event_source app"
    ad = event.get("ad")
    if ad is not None:
        callback = ad.get("callback") if isinstance(ad, dict) else None
        if not isinstance(callback, str):
            return "ad.callback", "not a valid string"
    return None


def _validate_user(user: Any) -> tuple[str, str] | None:
    if not isinstance(user, dict):
        return "user", "not an object"
    for name in HASHED_USER_FIELDS:
        value = user.get(name)
        if value is None:
            continue
        values = value if isinstance(value, list) else (value,)
        for item in values:
            if not isinstance(item, str) or not _HEX64.fullmatch(item):
                return f"user.{name}", "not a SHA-256 hex digest"
    for name in DEVICE_ID_FIELDS:
        if name in user and not isinstance(user[name], str):
            return f"user.{name}", "not a valid string"
    if "att_status" in user and user["att_status"] not in ATT_STATUSES:
        return "user.att_status", f"must be one of {', '.join(sorted(ATT_STATUSES))}"
    return None


def _validate_properties(properties: Any) -> tuple[str, str] | None:
    if not isinstance(properties, dict):
        return "properties", "not an object"
    contents = properties.get("contents")
    if contents is None:
        return None
    if not isinstance(contents, list):
        return "properties.contents", "not an array"
    for index, content in enumerate(contents):
        if not isinstance(content, dict):
            return f"properties.contents[{index}]", "not an object"
        content_id = content.get("content_id")
        if content_id is not None and not isinstance(content_id, str):
            return f"properties.contents[{index}].content_id", "not a valid string"
    return None
