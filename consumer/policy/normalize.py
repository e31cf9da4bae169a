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
from collections.abc import Callable
from typing import Final

import phonenumbers

Normaliser = Callable[[object], str | None]
"""A raw value to its normalised text, ``None`` when absent; raises ``UnusableIdentifierError``."""

_WHITESPACE: Final = re.compile(r"\s+")
_EMAIL_IN_TEXT: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_INTERNATIONAL_PHONE: Final = re.compile(r"\(?\+\d[\d\s().\-/]{5,24}")


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
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise UnusableIdentifierError("unparseable") from None
    if not phonenumbers.is_possible_number(number):
        raise UnusableIdentifierError("unparseable")
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def external_id(raw: object, lowercase: bool) -> str | None:
    """Trimmed; lowercased only when configured, to match what the Pixel side hashes."""
    text = text_of(raw)
    if text is None:
        return None
    return text.lower() if lowercase else text


def name(raw: object) -> str | None:
    """First or last name: trimmed, lowercased, inner whitespace collapsed to one space."""
    text = text_of(raw)
    return None if text is None else _WHITESPACE.sub(" ", text.lower())


def zip_code(raw: object) -> str | None:
    """Postal code: lowercased, all whitespace removed (``"SW1A 1AA"`` -> ``"sw1a1aa"``)."""
    text = text_of(raw)
    return None if text is None else _WHITESPACE.sub("", text.lower())


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
        except OSError:
            continue
        return text
    raise UnusableIdentifierError("invalid")


def plain(raw: object) -> str | None:
    """ttclid, ttp, user agent, locale: sent as they are, trimmed."""
    return text_of(raw)


def looks_like_pii(text: str) -> bool:
    """Whether free text (a custom property, a URL) holds an email-shaped value, or is a phone number in
    international format (``+`` and digits). National-format numbers cannot be told from other digit strings, which
    is why the config refuses to map a route's phone fields anywhere but ``user``."""
    if "@" in text and _EMAIL_IN_TEXT.search(text) is not None:
        return True
    stripped = text.strip()
    return stripped.startswith(("+", "(+")) and _INTERNATIONAL_PHONE.fullmatch(stripped) is not None
