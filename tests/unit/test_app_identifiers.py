"""Mobile identifiers of app events: normalisation of idfa, idfv, gaid and att_status, hashing as a per-route
setting, and the 64-hex pass-through rule (never hash twice). Each identifier is read through a route's user plan,
as the service reads it."""

from __future__ import annotations

import hashlib

import pytest

from consumer.policy.identifiers import UserPlan
from consumer.policy.settings import PolicySettings, UserSettings

IDFA = "6D92078A-8246-4BA4-AE5B-76104861E7DC"
GAID = "38400000-8CF0-11BD-B23E-10B96E40000D"
DIGEST = "9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"
DEVICE_IDS = ["idfa", "idfv", "gaid"]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def read(identifier: str, raw: object, hashed: bool = False) -> tuple[object, list[tuple[str, str]]]:
    """The value a route mapping ``identifier`` to a field holding ``raw`` sends, and the identifiers it dropped."""
    plan = UserPlan(UserSettings(**{identifier: "value"}), None, PolicySettings(), hash_device_ids=hashed)
    dropped: list[tuple[str, str]] = []
    user = plan.build({"value": raw}, lambda name, cause: dropped.append((name, cause)))
    return getattr(user, identifier), dropped


@pytest.mark.parametrize("identifier", DEVICE_IDS)
@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (IDFA, IDFA.lower()),
        (f"  {IDFA.lower()} ", IDFA.lower()),
        (IDFA.replace("-", ""), IDFA.lower()),
        ("{" + IDFA + "}", IDFA.lower()),
    ],
)
def test_device_ids_become_lowercase_hyphenated_uuids(identifier: str, raw: str, expected: str) -> None:
    """Upper case, blanks, braces and a missing hyphenation all give the canonical 8-4-4-4-12 lowercase form."""
    assert read(identifier, raw) == (expected, [])


@pytest.mark.parametrize("identifier", DEVICE_IDS)
@pytest.mark.parametrize(
    "raw", [None, "", "   ", "00000000-0000-0000-0000-000000000000", "00000000000000000000000000000000"]
)
def test_absent_or_zeroed_device_ids_are_absent(identifier: str, raw: str | None) -> None:
    """The all-zero id (iOS without ATT authorisation, Android with ad personalisation off) is no id at all: left
    out, and not counted as unusable."""
    assert read(identifier, raw) == (None, [])


@pytest.mark.parametrize("identifier", DEVICE_IDS)
@pytest.mark.parametrize(
    "raw", ["not-a-device-id", "6D92078A-8246-4BA4-AE5B", "6D92078A-8246-4BA4-AE5B-76104861E7DZ", 42]
)
def test_values_that_are_no_uuid_are_dropped_as_invalid(identifier: str, raw: object) -> None:
    """A present value that is not a UUID is dropped and counted, never sent as it is."""
    assert read(identifier, raw) == (None, [(identifier, "invalid")])


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("AUTHORIZED", "AUTHORIZED"),
        ("authorized", "AUTHORIZED"),
        ("notDetermined", "NOT_DETERMINED"),
        ("not_determined", "NOT_DETERMINED"),
        ("Restricted", "RESTRICTED"),
        ("denied", "DENIED"),
        ("NOT_APPLICABLE", "NOT_APPLICABLE"),
        (0, "NOT_DETERMINED"),
        (1, "RESTRICTED"),
        (2, "DENIED"),
        (3, "AUTHORIZED"),
        ("3", "AUTHORIZED"),
        (None, None),
        (" ", None),
    ],
)
def test_att_status_becomes_tiktoks_vocabulary(raw: object, expected: str | None) -> None:
    """TikTok's names, Apple's camelCase names and Apple's raw ATTrackingManager.AuthorizationStatus numbers."""
    assert read("att_status", raw) == (expected, [])


@pytest.mark.parametrize("raw", ["maybe", 7, True])
def test_unknown_att_status_is_dropped_as_invalid(raw: object) -> None:
    assert read("att_status", raw) == (None, [("att_status", "invalid")])


def test_att_status_is_never_hashed() -> None:
    """hash_device_ids hashes device ids only: att_status is a status, not an identifier of a person."""
    assert read("att_status", "authorized", hashed=True) == ("AUTHORIZED", [])


@pytest.mark.parametrize("identifier", DEVICE_IDS)
def test_device_ids_are_sent_normalised_by_default(identifier: str) -> None:
    """The default (hash_device_ids: false): the normalised id itself."""
    assert read(identifier, GAID) == (GAID.lower(), [])


@pytest.mark.parametrize("identifier", DEVICE_IDS)
def test_device_ids_are_hashed_after_normalising_when_hashing_is_on(identifier: str) -> None:
    """With hashing on, the digest is of the lowercase hyphenated form, whatever the record's spelling."""
    assert read(identifier, IDFA.replace("-", ""), hashed=True) == (sha(IDFA.lower()), [])


@pytest.mark.parametrize("hashed", [False, True])
@pytest.mark.parametrize("identifier", DEVICE_IDS)
def test_a_digest_passes_through_lowercased_and_is_never_hashed_twice(identifier: str, hashed: bool) -> None:
    """A 64-hex value was hashed upstream: it passes through lowercased, with hashing on or off."""
    assert read(identifier, f" {DIGEST} ", hashed=hashed) == (DIGEST.lower(), [])


@pytest.mark.parametrize("hashed", [False, True])
@pytest.mark.parametrize("identifier", DEVICE_IDS)
def test_reading_what_was_sent_gives_it_back(identifier: str, hashed: bool) -> None:
    """Idempotent: a relay behind a relay never double-hashes (and never re-spells) a device id."""
    once, _ = read(identifier, IDFA, hashed=hashed)
    assert read(identifier, once, hashed=hashed) == (once, [])


@pytest.mark.parametrize("identifier", DEVICE_IDS)
def test_zeroed_id_is_not_hashed_into_a_real_looking_one(identifier: str) -> None:
    """A hashed zero id would look like a real one to TikTok: with hashing on it stays absent."""
    assert read(identifier, "00000000-0000-0000-0000-000000000000", hashed=True) == (None, [])
