"""Normalisation and hashing of identifiers, as TikTok matches them (docs: /work/shared/tiktok-events-api.md)."""

from __future__ import annotations

import ast
import hashlib
import importlib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

import consumer
from consumer.model import Sha256Hex
from consumer.policy import hashing, normalize
from consumer.policy.hashing import IdentifierHasher, derive_event_id, email_digest, prehashed, sha256_hex
from consumer.policy.normalize import UnusableIdentifierError
from consumer.policy.settings import PolicySettings

HASHER = IdentifierHasher(PolicySettings(phone_default_region="US"))


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# TikTok's worked examples: the digests' first and last characters as TikTok's documentation prints them.
@pytest.mark.parametrize(
    ("field", "raw", "normalised", "prefix", "suffix"),
    [
        ("email", " ALICE_abc@gmail.com ", "alice_abc@gmail.com", "848a7714", "d3bb4f"),
        ("phone", "(+1)2133734253", "+12133734253", "9f7ec22d", "2dd2fd"),
        ("external_id", "user_123", "user_123", "80fba0ae", "f2ab8b"),
    ],
)
def test_tiktok_worked_examples(field: str, raw: str, normalised: str, prefix: str, suffix: str) -> None:
    """Each worked example hashes to TikTok's published digest: the digest of its normalised form."""
    digest = HASHER.for_field(field)(raw)
    assert digest == sha(normalised)
    assert digest is not None and digest.startswith(prefix) and digest.endswith(suffix)


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("(+1)2133734253", None, "+12133734253"),
        ("+1 213-373-4253", None, "+12133734253"),
        ("213-373-4253", "US", "+12133734253"),
        ("+44 07911 123456", None, "+447911123456"),
        ("07911 123456", "GB", "+447911123456"),
        ("0049 30 1234567", "DE", "+49301234567"),
        (12133734253, "US", "+12133734253"),
    ],
)
def test_phone_becomes_e164_with_plus(raw: object, region: str | None, expected: str) -> None:
    """Phones become E.164 with the + and country code: no spaces, brackets, trunk 0 or 00 prefix."""
    assert normalize.phone(raw, region) == expected


@pytest.mark.parametrize(
    ("raw", "region"),
    [("not a phone", "US"), ("12", "US"), ("213-373-4253", None), ("+1 21", None)],
)
def test_unparseable_phone_is_unusable(raw: str, region: str | None) -> None:
    """A phone that cannot be read (letters, too short, national without a default region) is unusable."""
    with pytest.raises(UnusableIdentifierError) as caught:
        normalize.phone(raw, region)
    assert caught.value.cause == "unparseable"


def test_unusable_identifier_error_does_not_quote_the_value() -> None:
    """The error carries only its cause: it may be logged or counted, so it must hold no PII."""
    with pytest.raises(UnusableIdentifierError) as caught:
        normalize.phone("call me maybe 555", "US")
    assert "555" not in str(caught.value)


@pytest.mark.parametrize("raw", ["no-at-sign", "@example.com", "jane@", "a@b@c"])
def test_email_without_local_part_and_domain_is_unusable(raw: str) -> None:
    """An email must have text on both sides of exactly one @."""
    with pytest.raises(UnusableIdentifierError):
        normalize.email(raw)


@pytest.mark.parametrize("raw", [None, "", "   "])
def test_blank_identifier_is_absent(raw: str | None) -> None:
    """Null or blank values are absent (``None``), not unusable: nothing is dropped or counted."""
    assert HASHER.email(raw) is None
    assert HASHER.phone(raw) is None
    assert normalize.country(raw) is None


def test_external_id_keeps_case_by_default() -> None:
    """external_id is hashed as given (trimmed) unless lowercasing is configured."""
    assert HASHER.external_id(" User_123 ") == sha("User_123")


def test_external_id_lowercased_when_configured() -> None:
    """policy.external_id_lowercase matches a Pixel side that lowercases before hashing."""
    hasher = IdentifierHasher(PolicySettings(external_id_lowercase=True))
    assert hasher.external_id("User_123") == sha("user_123")


@pytest.mark.parametrize(
    ("field", "raw", "normalised"),
    [
        ("first_name", "  Mary   Ann ", "mary ann"),
        ("last_name", "O'BRIEN", "o'brien"),
        ("zip_code", " SW1A 1AA ", "sw1a1aa"),
    ],
)
def test_names_and_zip_are_normalised_then_hashed(field: str, raw: str, normalised: str) -> None:
    """Names: trimmed, lowercased, inner blanks collapsed. Zip: lowercased, blanks removed. Then hashed."""
    assert HASHER.for_field(field)(raw) == sha(normalised)


@pytest.mark.parametrize(
    ("normalise", "raw", "expected"),
    [
        (normalize.place, " San  Francisco ", "san francisco"),
        (normalize.place, "CA", "ca"),
        (normalize.country, " US ", "us"),
        (normalize.ip, "203.0.113.7", "203.0.113.7"),
        (normalize.ip, "2001:db8::1", "2001:db8::1"),
    ],
)
def test_plain_fields_are_normalised_not_hashed(normalise: normalize.Normaliser, raw: str, expected: str) -> None:
    """City, state and country are sent in clear, lowercased; an IP address is checked and sent as is."""
    assert normalise(raw) == expected


@pytest.mark.parametrize(("normalise", "raw"), [(normalize.country, "USA"), (normalize.ip, "not-an-ip")])
def test_malformed_plain_field_is_unusable(normalise: normalize.Normaliser, raw: str) -> None:
    """A country that is not an alpha-2 code, or an IP that is not an address, is unusable."""
    with pytest.raises(UnusableIdentifierError) as caught:
        normalise(raw)
    assert caught.value.cause == "invalid"


def test_digest_passes_through_lowercased() -> None:
    """A value that already is a SHA-256 hex digest is taken as hashed upstream: lowercased, never hashed again."""
    digest = sha("alice_abc@gmail.com")
    assert HASHER.email(digest.upper()) == digest
    assert HASHER.phone(f" {digest} ") == digest


def test_prehashed_rejects_other_text() -> None:
    """Only exactly 64 hex characters count as a digest."""
    assert prehashed("ab" * 31) is None
    assert prehashed("g" * 64) is None
    assert prehashed(12345) is None


def test_sha256_hex_is_the_only_sha256hex_source_used() -> None:
    """Digests are ``Sha256Hex``, the only type ``TikTokUser`` accepts for hashed fields."""
    assert type(sha256_hex("x")) is Sha256Hex
    assert type(HASHER.email("jane@example.com")) is Sha256Hex


@given(st.text(max_size=40))
def test_hashing_is_idempotent(raw: str) -> None:
    """Hashing a digest returns the digest: a value hashed upstream (or twice) is never hashed again."""
    for field in ("email", "external_id", "first_name", "last_name", "zip_code"):
        hash_value = HASHER.for_field(field)
        try:
            once = hash_value(raw)
        except UnusableIdentifierError:
            continue
        if once is not None:
            assert hash_value(once) == once


@given(st.from_regex(r"\+1[2-9][0-9]{2}[2-9][0-9]{6}", fullmatch=True))
def test_phone_hashing_is_idempotent(raw: str) -> None:
    """A phone's digest hashed again is the same digest."""
    once = HASHER.phone(raw)
    assert once is not None and HASHER.phone(once) == once


def test_derived_event_id_is_stable() -> None:
    """The same record fields give the same id on every call (replays dedup at TikTok)."""
    assert derive_event_id("Purchase", ["main", "ord-1"]) == derive_event_id("Purchase", ["main", "ord-1"])


def test_derived_event_id_depends_on_event_name_and_fields() -> None:
    """Another event name or other field values give another id; joined parts cannot collide by concatenation."""
    base = derive_event_id("Purchase", ["main", "ord-1"])
    assert derive_event_id("PlaceAnOrder", ["main", "ord-1"]) != base
    assert derive_event_id("Purchase", ["main", "ord-2"]) != base
    assert derive_event_id("Purchase", ["mai", "nord-1"]) != base


@pytest.mark.parametrize("raw", ["203.0.113.7", "2001:db8::1"])
def test_ip_addresses_pass_as_given(raw: str) -> None:
    """IPv4 and IPv6 addresses are sent unhashed, as given."""
    assert normalize.ip(raw) == raw


@pytest.mark.parametrize("raw", ["not an ip", "203.0.113.7\x00", "999.1.1.1"])
def test_unusable_ip_is_an_unusable_identifier(raw: str) -> None:
    """Anything that is not an address, including text with a NUL (found by fuzzing), is dropped, not a crash."""
    with pytest.raises(UnusableIdentifierError):
        normalize.ip(raw)


def test_only_the_hashing_module_hashes_identifiers() -> None:
    """``policy.hashing`` is the only place raw identifiers are normalised and hashed (its docstring's promise):
    other modules take its hash functions (the consent table keys email subjects with ``email_digest``) rather
    than calling ``sha256_hex`` on text of their own."""
    root = Path(consumer.__file__).parent
    callers = sorted(
        str(path.relative_to(root))
        for path in root.rglob("*.py")
        if path.name != "hashing.py"
        and any(
            isinstance(node, ast.ImportFrom) and any(alias.name == "sha256_hex" for alias in node.names)
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        )
    )
    assert callers == []


def test_email_digest_is_the_user_email_hash() -> None:
    """The consent table's email key and ``user.email`` are one function: the same digest for every form."""
    for raw in (" ALICE_abc@gmail.com ", "alice_abc@gmail.com", sha("alice_abc@gmail.com").upper()):
        assert email_digest(raw) == HASHER.email(raw) == sha("alice_abc@gmail.com")


def test_without_cpythons_own_sha256_hashlibs_is_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Python built without its own SHA-256 modules hashes with hashlib's constructor: the same digests."""

    def missing(name: str) -> None:
        raise ImportError(name)

    monkeypatch.setattr(importlib, "import_module", missing)
    assert hashing._builtin_sha256() is hashlib.sha256
