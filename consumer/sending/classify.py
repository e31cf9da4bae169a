"""The TikTok response table: one pure function from what came back to what the sender does next.

TikTok answers HTTP 200 for most errors and puts the verdict in the body ``code``, so the body code decides
whenever the status is 2xx. Non-2xx statuses come from gateways (502/503 HTML pages), a wrong path (404) or
proxies. Transport failures (timeouts, refused or reset connections) never reached a verdict and are retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Literal


class Decision(StrEnum):
    """What the sender does with the events of a request."""

    DELIVERED = "delivered"  # settle them as delivered
    RETRY = "retry"  # send the same request again after a backoff, within the retry budget
    ISOLATE = "isolate"  # the request was rejected for its content: split it to find the offending events
    AUTH_FAULT = "auth_fault"  # configuration fault (token, permission, endpoint): hold and retry slowly
    PERMANENT = "permanent"  # the events cannot be delivered as they are: dead-letter them


@dataclass(frozen=True, slots=True)
class Verdict:
    """A decision with a stable, bounded reason (used as a metric label and in logs)."""

    decision: Decision
    reason: str
    throttled: bool = False  # a per-pixel/advertiser QPS limit: back off more than for other transient failures
    alert: bool = False  # the answer points at a bug in the relay itself (unhashed PII): count it for an alert


TransportErrorKind = Literal["timeout", "connection"]

OK = Verdict(Decision.DELIVERED, "ok")
PARTIAL_SUCCESS = Verdict(Decision.DELIVERED, "partial_success")
DUPLICATE_REQUEST = Verdict(Decision.DELIVERED, "duplicate_request")
INVALID_PARAMETER = Verdict(Decision.ISOLATE, "invalid_parameter")
INVALID_BATCH_SIZE = Verdict(Decision.ISOLATE, "invalid_batch_size")
PII_NOT_HASHED = Verdict(Decision.ISOLATE, "pii_not_hashed", alert=True)
INVALID_PARTNER_NAME = Verdict(Decision.AUTH_FAULT, "invalid_partner_name")
NO_PERMISSION = Verdict(Decision.AUTH_FAULT, "no_permission")
TOKEN_EXPIRED = Verdict(Decision.AUTH_FAULT, "token_expired")
TOKEN_MISSING = Verdict(Decision.AUTH_FAULT, "token_missing")
TOKEN_INVALID = Verdict(Decision.AUTH_FAULT, "token_invalid")
RATE_LIMITED = Verdict(Decision.RETRY, "rate_limited")
QPS_LIMITED = Verdict(Decision.RETRY, "qps_limited", throttled=True)
SERVER_ERROR = Verdict(Decision.RETRY, "server_error")
UNKNOWN_CODE = Verdict(Decision.RETRY, "unknown_code")
MALFORMED_RESPONSE = Verdict(Decision.RETRY, "malformed_response")
HTTP_SERVER_ERROR = Verdict(Decision.RETRY, "http_5xx")
HTTP_THROTTLED = Verdict(Decision.RETRY, "http_429")
HTTP_TIMEOUT = Verdict(Decision.RETRY, "http_408")
HTTP_UNAUTHORIZED = Verdict(Decision.AUTH_FAULT, "http_unauthorized")
ENDPOINT_NOT_FOUND = Verdict(Decision.AUTH_FAULT, "endpoint_not_found")
HTTP_REJECTED = Verdict(Decision.ISOLATE, "http_rejected")
HTTP_CLIENT_ERROR = Verdict(Decision.PERMANENT, "http_client_error")
HTTP_UNEXPECTED = Verdict(Decision.RETRY, "http_unexpected")
TIMEOUT = Verdict(Decision.RETRY, "timeout")
CONNECTION_ERROR = Verdict(Decision.RETRY, "connection_error")

BODY_CODES: dict[int, Verdict] = {
    0: OK,
    20001: PARTIAL_SUCCESS,
    40000: INVALID_PARAMETER,
    40002: INVALID_PARAMETER,
    40050: DUPLICATE_REQUEST,  # TikTok saw this very request before: its events are already in
    40061: INVALID_BATCH_SIZE,  # halves are smaller (should not happen at <= 1000 events)
    40062: PII_NOT_HASHED,  # the offending events are dead-lettered like 40002 ones, and counted for an alert
    40063: INVALID_PARTNER_NAME,  # tiktok.partner_name is sent on every request: a configuration fault
    40001: NO_PERMISSION,
    40102: TOKEN_EXPIRED,
    40104: TOKEN_MISSING,
    40105: TOKEN_INVALID,
    40100: RATE_LIMITED,
    61000: RATE_LIMITED,
    40132: QPS_LIMITED,
    40133: QPS_LIMITED,
    50000: SERVER_ERROR,
    50002: SERVER_ERROR,
    51012: SERVER_ERROR,
    60001: SERVER_ERROR,
}
"""TikTok's documented body codes. Any other code is retried within the budget: an undocumented code may be a
new throttle or outage, and a retry that ends in the dead-letter topic loses nothing."""

HTTP_STATUSES: dict[int, Verdict] = {
    401: HTTP_UNAUTHORIZED,
    403: HTTP_UNAUTHORIZED,
    407: HTTP_UNAUTHORIZED,  # a proxy wants credentials
    404: ENDPOINT_NOT_FOUND,  # a wrong endpoint URL is a configuration fault, not bad data
    405: ENDPOINT_NOT_FOUND,
    408: HTTP_TIMEOUT,
    429: HTTP_THROTTLED,
    400: HTTP_REJECTED,
    413: HTTP_REJECTED,  # too large: halves may pass
    422: HTTP_REJECTED,
}


def classify_response(http_status: int, code: int | None) -> Verdict:
    """The verdict for a response: ``code`` is the body's integer ``code``, or None if the body had none."""
    if 200 <= http_status < 300:
        if code is None:
            return MALFORMED_RESPONSE
        return BODY_CODES.get(code, UNKNOWN_CODE)
    if http_status >= 500:
        return HTTP_SERVER_ERROR
    known = HTTP_STATUSES.get(http_status)
    if known is not None:
        return known
    return HTTP_CLIENT_ERROR if 400 <= http_status < 500 else HTTP_UNEXPECTED


def classify_transport_error(kind: TransportErrorKind) -> Verdict:
    """The verdict for a request that got no response: always a retry."""
    return TIMEOUT if kind == "timeout" else CONNECTION_ERROR
