"""Sample records and encoding helpers that other stages' tests and the demo reuse."""

from __future__ import annotations

import pytest

from consumer.decode.wire import read_schema_id
from consumer.demo.samples import SAMPLE_TIME, encode, sample_record


def test_sample_accepts_full_and_short_names() -> None:
    """A schema can be named as DomainRecord.schema_name does or by its short name."""
    assert sample_record("com.example.crm.LeadSubmitted") == sample_record("LeadSubmitted")


def test_overrides_replace_top_level_fields() -> None:
    """Keyword overrides replace the named fields and leave the others at their sample values."""
    record = sample_record("OrderPaid", event_id=None, store="outlet")
    assert (record["event_id"], record["store"], record["occurred_at"]) == (None, "outlet", SAMPLE_TIME)


def test_unknown_override_is_refused() -> None:
    """A misspelt field fails loudly instead of silently producing the default sample."""
    with pytest.raises(KeyError, match="evnt_id"):
        sample_record("OrderPaid", evnt_id="x")


def test_older_version_sample_has_only_its_fields() -> None:
    """OrderPaid v1 samples lack the fields v2 added; the default is the latest version."""
    assert "customer_segment" not in sample_record("OrderPaid", version=1)
    assert sample_record("OrderPaid")["customer_segment"] == "returning"


def test_unknown_version_is_refused() -> None:
    """Asking for a version a schema does not have is an error, not the latest version."""
    with pytest.raises(KeyError, match=r"versions 1\.\.2"):
        sample_record("OrderPaid", version=3)


def test_samples_are_fresh_copies() -> None:
    """Mutating a sample does not leak into the next one."""
    first = sample_record("OrderPlaced")
    first["items"][0]["quantity"] = 99
    assert sample_record("OrderPlaced")["items"][0]["quantity"] == 2


def test_encode_frames_only_with_a_schema_id() -> None:
    """With a schema id the bytes are Confluent-framed; without, they are the plain Avro body."""
    record = sample_record("LeadStatusChanged")
    plain = encode("LeadStatusChanged", record)
    framed = encode("LeadStatusChanged", record, schema_id=7)
    assert read_schema_id(framed) == 7
    assert framed[5:] == plain
