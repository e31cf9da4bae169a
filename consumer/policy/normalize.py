"""Normalisation of identifiers, as TikTok matches them (docs: /work/shared/tiktok-events-api.md).

Each normaliser takes a raw record value and returns the normalised text, ``None`` when the value is absent (null
or blank), or raises ``UnusableIdentifierError`` when a value is present but cannot be used (an unparseable phone, an
email without ``@``): the caller drops that identifier from the event and counts it; the event itself still goes.
The results of the hashed kinds (email, phone, external_id, names, zip) are still raw PII: only
``consumer.policy.hashing`` may call those normalisers, and it hashes their output at once.
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Callable
from functools import cache, lru_cache
from typing import Final, NamedTuple

import phonenumbers
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE, PhoneMetadata

Normaliser = Callable[[object], str | None]
"""A raw value to its normalised text, ``None`` when absent; raises ``UnusableIdentifierError``."""

_FAST_PHONE_MAX_LENGTH: Final = 40  # far below phonenumbers' 250-character input limit
_PHONE_CACHE_SIZE: Final = 4096
"""Phones in other notations (national, brackets, dots) whose parse is kept: about 1 MB at most, in memory only.
Repeat customers are common in production. Phones the fast path reads skip the cache: a miss would cost about what
a hit saves them."""


class UnusableIdentifierError(Exception):
    """A present identifier that cannot be normalised. ``cause`` is a bounded metric label; no value is kept."""

    def __init__(self, cause: str) -> None:
        super().__init__(cause)
        self.cause = cause


def text_of(raw: object) -> str | None:
    """The value as stripped text: ``None`` for null or blank; integers are accepted (ids, phones stored as
    numbers); anything else (a record, a list, a boolean) is unusable."""
    if raw is None:
        return None
    if isinstance(raw, str):
        text = raw.strip()
    elif isinstance(raw, int) and not isinstance(raw, bool):
        text = str(raw)
    else:
        raise UnusableIdentifierError("invalid")
    return text or None


def email(raw: object) -> str | None:
    """Trimmed and lowercased; a value without a local part and a domain around one ``@`` is unusable."""
    text = text_of(raw)
    if text is None:
        return None
    local, at, domain = text.lower().partition("@")
    if not at or not local or not domain or "@" in domain:
        raise UnusableIdentifierError("invalid")
    return f"{local}@{domain}"


def phone(raw: object, default_region: str | None) -> str | None:
    """E.164 with the leading ``+`` (``"(+1)2133734253"`` -> ``"+12133734253"``). A national number (no country
    code) is read in ``default_region``; without one, or when the digits cannot be a phone number, it is unusable."""
    text = text_of(raw)
    if text is None:
        return None
    fast = _e164_fast(text)
    return fast if fast is not None else _e164_parsed(text, default_region)


@lru_cache(maxsize=_PHONE_CACHE_SIZE)  # a pure function; an unusable phone raises and is not cached
def _e164_parsed(text: str, default_region: str | None) -> str:
    """The general path: phonenumbers' parser, which reads any notation (over 10 us a number)."""
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise UnusableIdentifierError("unparseable") from None
    if not phonenumbers.is_possible_number(number):
        raise UnusableIdentifierError("unparseable")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def _e164_fast(text: str) -> str | None:
    """``_e164_parsed`` of ``+`` and 8-15 ASCII digits (the first not 0) among spaces and hyphens, the common shape
    (``+1 415-555-0132``), without the general parser; ``None`` when the parser must decide.

    For such text the parser keeps the digits, takes the shortest known country code, then strips a national prefix
    only where the country's prefix pattern matches: when it cannot match, the E.164 is ``+`` and the digits, and the
    number is possible when its length is. ``test_policy_fastpaths`` checks the equality for every country code.
    """
    if not text.startswith("+") or len(text) > _FAST_PHONE_MAX_LENGTH:
        return None
    digits = text[1:].replace(" ", "").replace("-", "")  # what the parser strips of this shape (no regex: hot path)
    if not (digits.isascii() and digits.isdigit() and 8 <= len(digits) <= 15) or digits.startswith("0"):
        return None
    split = _split_country_code(digits)
    if split is None:
        return None
    country_code, national = split
    rules = _country_rules(country_code)
    if rules.national_prefix.match(national) is not None:
        return None
    if len(national) not in rules.possible_lengths:
        raise UnusableIdentifierError("unparseable")
    return f"+{digits}"


def _split_country_code(digits: str) -> tuple[int, str] | None:
    """(calling code, national number) as the parser splits them (the shortest known prefix); ``None`` if none."""
    for length in (1, 2, 3):
        code = int(digits[:length])
        if code in COUNTRY_CODE_TO_REGION_CODE:
            return code, digits[length:]
    return None


class _CountryRules(NamedTuple):
    national_prefix: re.Pattern[str]
    """What the parser tries to strip after the calling code (``1`` after +1, ``0`` in much of Europe)."""
    possible_lengths: frozenset[int]
    """The national number lengths ``phonenumbers.is_possible_number`` accepts (it judges by length alone)."""


_NEVER_MATCHES: Final = re.compile(r"(?!)")
_ALWAYS_MATCHES: Final = re.compile("")
_MAX_NATIONAL_LENGTH: Final = 17  # phonenumbers' longest national significant number


@cache  # bounded: about 250 calling codes
def _country_rules(country_code: int) -> _CountryRules:
    """The phonenumbers metadata of ``country_code`` that the fast path needs, read once. Without metadata the
    prefix pattern always matches, so the parser decides."""
    region = phonenumbers.region_code_for_country_code(country_code)
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(country_code, region)
    if metadata is None:
        return _CountryRules(_ALWAYS_MATCHES, frozenset())
    prefix = metadata.national_prefix_for_parsing
    lengths = frozenset(
        length
        for length in range(1, _MAX_NATIONAL_LENGTH + 1)
        if phonenumbers.is_possible_number(
            phonenumbers.PhoneNumber(country_code=country_code, national_number=int("1" * length))
        )
    )
    return _CountryRules(re.compile(prefix) if prefix else _NEVER_MATCHES, lengths)


def external_id(raw: object, lowercase: bool) -> str | None:
    """Trimmed; lowercased only when configured, to match what the Pixel side hashes."""
    text = text_of(raw)
    if text is None:
        return None
    return text.lower() if lowercase else text


def name(raw: object) -> str | None:
    """First or last name: trimmed, lowercased, inner whitespace collapsed to one space."""
    text = text_of(raw)
    # str.split() splits on exactly the characters regex \s matches, and text is stripped: this is
    # re.sub(r"\s+", " ", text.lower()) at a third of the cost (hot path: four names and places per event).
    return None if text is None else " ".join(text.lower().split())


def zip_code(raw: object) -> str | None:
    """Postal code: lowercased, all whitespace removed (``"SW1A 1AA"`` -> ``"sw1a1aa"``)."""
    text = text_of(raw)
    return None if text is None else "".join(text.lower().split())  # as in name(): re.sub(r"\s+", "", ...)


def place(raw: object) -> str | None:
    """City or state, sent unhashed: trimmed, lowercased, inner whitespace collapsed."""
    return name(raw)


def country(raw: object) -> str | None:
    """Country, sent unhashed: an ISO 3166-1 alpha-2 code, lowercased; anything else is unusable."""
    text = text_of(raw)
    if text is None:
        return None
    code = text.lower()
    if len(code) != 2 or not code.isascii() or not code.isalpha():
        raise UnusableIdentifierError("invalid")
    return code


def ip(raw: object) -> str | None:
    """An IPv4 or IPv6 address, as given; anything else is unusable."""
    text = text_of(raw)
    if text is None:
        return None
    for family in (socket.AF_INET, socket.AF_INET6):
        try:
            socket.inet_pton(family, text)  # validates in C: much cheaper than ipaddress on the hot path
        except (OSError, ValueError):  # ValueError: an embedded NUL, which inet_pton refuses before parsing
            continue
        return text
    raise UnusableIdentifierError("invalid")


def plain(raw: object) -> str | None:
    """ttclid, ttp, user agent, locale: sent as they are, trimmed."""
    return text_of(raw)


def device_id(raw: object) -> str | None:
    """idfa, idfv, gaid: a UUID in canonical form, lowercase and hyphenated 8-4-4-4-12 (``"6D92078A8246..."`` and
    ``"{6D92078A-...}"`` -> ``"6d92078a-8246-..."``). The all-zero UUID is what iOS gives without App Tracking
    Transparency authorisation and Android after an opt-out of ad personalisation: no id at all, so ``None``.
    Anything that is not a UUID is unusable."""
    text = text_of(raw)
    if text is None:
        return None
    try:
        parsed = uuid.UUID(text)
    except ValueError:
        raise UnusableIdentifierError("invalid") from None
    return None if parsed.int == 0 else str(parsed)


ATT_STATUSES: Final = ("AUTHORIZED", "DENIED", "NOT_DETERMINED", "RESTRICTED", "NOT_APPLICABLE")
"""TikTok's names of the iOS App Tracking Transparency status (as integrations send ``user.att_status``)."""
_APPLE_ATT_STATUSES: Final = ("NOT_DETERMINED", "RESTRICTED", "DENIED", "AUTHORIZED")
"""Apple's ``ATTrackingManager.AuthorizationStatus`` raw values 0-3, in order."""
_WORD_BOUNDARY: Final = re.compile(r"(?<=[a-z])(?=[A-Z])|[\s-]+")


def att_status(raw: object) -> str | None:
    """One of ``ATT_STATUSES``, from TikTok's name in any case, Apple's camelCase name (``notDetermined``) or
    Apple's raw status number (``3`` -> ``AUTHORIZED``); anything else is unusable."""
    text = text_of(raw)
    if text is None:
        return None
    if text.isdigit():
        index = int(text)
        if index < len(_APPLE_ATT_STATUSES):
            return _APPLE_ATT_STATUSES[index]
        raise UnusableIdentifierError("invalid")
    name = _WORD_BOUNDARY.sub("_", text).upper()
    if name not in ATT_STATUSES:
        raise UnusableIdentifierError("invalid")
    return name
