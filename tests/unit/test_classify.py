"""The TikTok response table: every documented body code, HTTP status family and transport failure."""

from __future__ import annotations

import pytest

from consumer.sending.classify import Decision, classify_response, classify_transport_error

BODY_CODE_TABLE = [
    (0, Decision.DELIVERED, "ok"),
    (20001, Decision.DELIVERED, "partial_success"),
    (40000, Decision.ISOLATE, "invalid_parameter"),
    (40002, Decision.ISOLATE, "invalid_parameter"),
    (40001, Decision.AUTH_FAULT, "no_permission"),
    (40102, Decision.AUTH_FAULT, "token_expired"),
    (40104, Decision.AUTH_FAULT, "token_missing"),
    (40105, Decision.AUTH_FAULT, "token_invalid"),
    (40100, Decision.RETRY, "rate_limited"),
    (40132, Decision.RETRY, "qps_limited"),
    (40133, Decision.RETRY, "qps_limited"),
    (50000, Decision.RETRY, "server_error"),
    (50002, Decision.RETRY, "server_error"),
    (51012, Decision.RETRY, "server_error"),
    (60001, Decision.RETRY, "server_error"),
    (40050, Decision.DELIVERED, "duplicate_request"),
    (40061, Decision.ISOLATE, "invalid_batch_size"),
    (40062, Decision.ISOLATE, "pii_not_hashed"),
    (40063, Decision.AUTH_FAULT, "invalid_partner_name"),
    (61000, Decision.RETRY, "rate_limited"),
]


@pytest.mark.parametrize(("code", "decision", "reason"), BODY_CODE_TABLE)
def test_body_code_decides_on_http_200(code: int, decision: Decision, reason: str) -> None:
    """With HTTP 200 the body code alone decides, as TikTok answers 200 for most errors."""
    verdict = classify_response(200, code)
    assert (verdict.decision, verdict.reason) == (decision, reason)


@pytest.mark.parametrize("code", [40132, 40133])
def test_qps_limits_back_off_harder(code: int) -> None:
    """Per-pixel and per-advertiser QPS limits are marked throttled, so the retry waits longer."""
    assert classify_response(200, code).throttled


def test_unhashed_pii_rejection_raises_an_alert() -> None:
    """40062 means the relay sent an identifier unhashed: a hashing bug an operator must hear about."""
    assert classify_response(200, 40062).alert
    assert not classify_response(200, 40002).alert


@pytest.mark.parametrize("code", [40100, 61000, 50000])
def test_other_retries_are_not_throttled(code: int) -> None:
    """Only the QPS limits use the slower backoff."""
    assert not classify_response(200, code).throttled


def test_unknown_body_code_is_retried() -> None:
    """An undocumented code is retried within the budget rather than dropped or dead-lettered at once."""
    verdict = classify_response(200, 49999)
    assert (verdict.decision, verdict.reason) == (Decision.RETRY, "unknown_code")


def test_missing_body_code_is_retried() -> None:
    """A 200 without a readable envelope is not success: it is retried."""
    verdict = classify_response(200, None)
    assert (verdict.decision, verdict.reason) == (Decision.RETRY, "malformed_response")


def test_other_2xx_statuses_read_the_body_code() -> None:
    """Any 2xx defers to the body code."""
    assert classify_response(202, 40002).decision is Decision.ISOLATE


@pytest.mark.parametrize("status", [500, 502, 503, 504, 599])
def test_http_5xx_is_retried(status: int) -> None:
    """Gateway faults are transient, whatever the body says."""
    verdict = classify_response(status, 0)
    assert (verdict.decision, verdict.reason) == (Decision.RETRY, "http_5xx")


HTTP_TABLE = [
    (401, Decision.AUTH_FAULT, "http_unauthorized"),
    (403, Decision.AUTH_FAULT, "http_unauthorized"),
    (407, Decision.AUTH_FAULT, "http_unauthorized"),
    (404, Decision.AUTH_FAULT, "endpoint_not_found"),
    (405, Decision.AUTH_FAULT, "endpoint_not_found"),
    (408, Decision.RETRY, "http_408"),
    (429, Decision.RETRY, "http_429"),
    (400, Decision.ISOLATE, "http_rejected"),
    (413, Decision.ISOLATE, "http_rejected"),
    (422, Decision.ISOLATE, "http_rejected"),
    (410, Decision.PERMANENT, "http_client_error"),
    (415, Decision.PERMANENT, "http_client_error"),
    (302, Decision.RETRY, "http_unexpected"),
    (101, Decision.RETRY, "http_unexpected"),
]


@pytest.mark.parametrize(("status", "decision", "reason"), HTTP_TABLE)
def test_non_2xx_status_decides(status: int, decision: Decision, reason: str) -> None:
    """Outside 2xx the status decides: configuration faults hold, content rejections isolate, others retry."""
    verdict = classify_response(status, None)
    assert (verdict.decision, verdict.reason) == (decision, reason)


@pytest.mark.parametrize(("kind", "reason"), [("timeout", "timeout"), ("connection", "connection_error")])
def test_transport_errors_are_retried(kind: str, reason: str) -> None:
    """No response at all is always transient."""
    verdict = classify_transport_error(kind)  # type: ignore[arg-type]
    assert (verdict.decision, verdict.reason) == (Decision.RETRY, reason)
