"""Logs: one JSON object per line with stable keys, and a redaction step no PII or token gets past."""

from __future__ import annotations

import orjson
import pytest
import structlog

from consumer.model import Sha256Hex, TikTokUser
from consumer.observability.logging import REDACTED, configure_logging, mask_text, redact


def test_sensitive_keys_are_replaced_whatever_their_value() -> None:
    """Keys that name personal data or secrets never carry their value into a log line."""
    event = redact(None, "info", {"event": "x", "email": "a@b.co", "Access_Token": "tok-123", "phone": "+1 213 373"})
    assert event == {"event": "x", "email": REDACTED, "Access_Token": REDACTED, "phone": REDACTED}


def test_nested_sensitive_keys_are_replaced() -> None:
    """Redaction reaches into nested mappings and lists (e.g. a logged request fragment)."""
    event = redact(None, "info", {"event": "x", "body": {"user": [{"email": "a@b.co", "ttclid": "abc"}]}})
    assert event["body"] == {"user": [{"email": REDACTED, "ttclid": "abc"}]}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Invalid value for email: ALICE@example.com", f"Invalid value for email: {REDACTED}"),
        ("call +1 (213) 373-4253 now", f"call {REDACTED} now"),
        ("sandbox on 127.0.0.1:8080", "sandbox on 127.0.0.1:8080"),
        ("order 12345 failed", "order 12345 failed"),
    ],
)
def test_free_text_masks_emails_and_phone_numbers_but_not_addresses(text: str, expected: str) -> None:
    """Free text keeps short numbers and IPv4 addresses; e-mail addresses and phone-like digit runs are masked."""
    assert mask_text(text) == expected


def test_json_logs_are_one_object_per_line_with_stable_keys(capsys: pytest.CaptureFixture[str]) -> None:
    """Production format: one JSON object per line with timestamp, level and event, already redacted."""
    configure_logging("json", "info")
    structlog.get_logger().info("send_failed", message="bad email bob@example.org", token="secret-token")
    structlog.reset_defaults()
    line = capsys.readouterr().err.strip()
    assert "\n" not in line
    record = orjson.loads(line)
    assert record["event"] == "send_failed"
    assert record["level"] == "info"
    assert "timestamp" in record
    assert "bob@example.org" not in line
    assert "secret-token" not in line


def test_user_to_json_lists_every_set_field_once() -> None:
    """TikTokUser serialises single identifiers as strings, several as arrays, and omits empty fields."""
    digest = Sha256Hex("a" * 64)
    user = TikTokUser(email=(digest,), phone=(digest, Sha256Hex("b" * 64)), ip="203.0.113.9")
    assert user.to_json() == {"email": "a" * 64, "phone": ["a" * 64, "b" * 64], "ip": "203.0.113.9"}


def test_user_refuses_a_raw_email() -> None:
    """A plain string in a hashed field is a type error at construction: raw PII cannot reach the sender."""
    with pytest.raises(TypeError, match="email"):
        TikTokUser(email=("alice@example.com",))  # type: ignore[arg-type]


def test_device_ids_are_replaced_like_other_personal_data() -> None:
    """App events carry idfa, idfv and gaid (sent unhashed by default): a log line that names one, at any depth, shows
    no device id (a UUID is no e-mail or digit run, so free-text masking would not catch it)."""
    idfa = "6d92078a-8246-4ba4-ae5b-76104861e7dc"
    event = redact(None, "info", {"event": "x", "idfa": idfa, "user": {"idfv": idfa, "gaid": idfa}})
    assert event == {"event": "x", "idfa": REDACTED, "user": {"idfv": REDACTED, "gaid": REDACTED}}
