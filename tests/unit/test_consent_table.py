"""The consent table: entries from the consent topic's values, tombstones, and the decision at send time."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

import pytest

from consumer.consent_table.entry import ConsentEntryError, PurposeBits
from consumer.consent_table.settings import ConsentSubjectSettings
from consumer.consent_table.subject import SubjectReader
from consumer.consent_table.table import (
    CONSENT_DENIED_IN_TABLE,
    CONSENT_WITHDRAWN_LATER,
    ConsentTable,
    subject_digest,
)
from consumer.model import ConsentSubject

PURPOSES = PurposeBits(["marketing", "analytics"])
EVENT_MS = 1_700_000_000_000
EMAIL_KEY = hashlib.sha256(b"alice@example.com").hexdigest()


def subject(subject_id: str = "cust-1", purposes: tuple[str, ...] = ("marketing",)) -> ConsentSubject:
    return ConsentSubject(subject_digest(subject_id), PURPOSES.mask(purposes), EVENT_MS)


def table_with(value: dict[str, object], subject_id: str = "cust-1") -> ConsentTable:
    table = ConsentTable()
    table.put(subject_digest(subject_id), PURPOSES.entry(value))
    return table


def test_a_withdrawal_newer_than_the_event_withholds_it() -> None:
    """DENIED for the route's purpose, decided after the event: withheld, reason consent_withdrawn_later."""
    table = table_with({"purposes": {"marketing": "DENIED"}, "decided_at": EVENT_MS + 1})
    assert table.withheld_reason(subject()) == CONSENT_WITHDRAWN_LATER


def test_a_denial_older_than_the_event_still_withholds_it() -> None:
    """The table says what the subject allows now: an older denial withholds too, under its own reason."""
    table = table_with({"purposes": {"marketing": "DENIED"}, "decided_at": EVENT_MS - 1})
    assert table.withheld_reason(subject()) == CONSENT_DENIED_IN_TABLE


def test_a_denial_of_another_purpose_does_not_withhold() -> None:
    table = table_with({"purposes": {"marketing": "GRANTED", "analytics": "DENIED"}, "decided_at": EVENT_MS + 1})
    assert table.withheld_reason(subject()) is None
    assert table.withheld_reason(subject(purposes=("marketing", "analytics"))) == CONSENT_WITHDRAWN_LATER


def test_an_unknown_subject_is_not_withheld() -> None:
    table = table_with({"purposes": {"marketing": "DENIED"}, "decided_at": EVENT_MS + 1})
    assert table.withheld_reason(subject("cust-2")) is None


def test_a_later_grant_replaces_the_withdrawal() -> None:
    table = table_with({"purposes": {"marketing": "DENIED"}, "decided_at": EVENT_MS + 1})
    table.put(
        subject_digest("cust-1"), PURPOSES.entry({"purposes": {"marketing": "GRANTED"}, "decided_at": EVENT_MS + 2})
    )
    assert table.withheld_reason(subject()) is None


def test_a_tombstone_deletes_the_subject() -> None:
    table = table_with({"purposes": {"marketing": "DENIED"}, "decided_at": EVENT_MS + 1})
    table.delete(subject_digest("cust-1"))
    assert (len(table), table.withheld_reason(subject())) == (0, None)


def test_decision_time_may_be_a_datetime_or_iso_text() -> None:
    """Avro timestamp-millis decodes to a datetime; the map command's JSON gives ISO text."""
    moment = datetime.fromtimestamp((EVENT_MS + 5_000) / 1000, UTC)
    by_datetime = PURPOSES.entry({"purposes": {"marketing": "DENIED"}, "decided_at": moment})
    by_text = PURPOSES.entry({"purposes": {"marketing": "DENIED"}, "decided_at": moment.isoformat()})
    assert by_datetime == by_text
    assert PURPOSES.decided_ms(by_datetime) == EVENT_MS + 5_000


def test_purposes_not_configured_are_ignored() -> None:
    entry = PURPOSES.entry({"purposes": {"profiling": "DENIED"}, "decided_at": EVENT_MS})
    table = ConsentTable()
    table.put(subject_digest("cust-1"), entry)
    assert table.withheld_reason(subject(purposes=("marketing", "analytics"))) is None


@pytest.mark.parametrize(
    "value",
    [
        {"purposes": {"marketing": "DENIED"}},
        {"purposes": {"marketing": "MAYBE"}, "decided_at": EVENT_MS},
        {"purposes": "DENIED", "decided_at": EVENT_MS},
    ],
)
def test_an_invalid_entry_is_a_named_error(value: dict[str, object]) -> None:
    with pytest.raises(ConsentEntryError):
        PURPOSES.entry(value)


def test_subject_digest_is_sixteen_bytes() -> None:
    assert len(subject_digest("cust-1")) == 16
    assert subject_digest("cust-1") != subject_digest("cust-2")


def test_unknown_route_purpose_is_rejected() -> None:
    with pytest.raises(ValueError, match="profiling"):
        PURPOSES.mask(["profiling"])


@pytest.mark.parametrize("raw", [" Alice@Example.COM ", "alice@example.com", EMAIL_KEY.upper()])
def test_an_email_subject_is_keyed_by_the_digest_of_the_normalised_address(raw: str) -> None:
    """``kind: email``: the key the consent service publishes is the SHA-256 hex of the trimmed, lower-case address
    (a digest in the record passes through), so every form of one address finds the same entry."""
    reader = SubjectReader(ConsentSubjectSettings.model_validate({"from": "email", "kind": "email"}), PURPOSES)
    found = reader({"email": raw}, EVENT_MS)
    assert found is not None
    assert found.digest == subject_digest(EMAIL_KEY)
