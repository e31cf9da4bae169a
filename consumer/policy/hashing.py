"""SHA-256 of normalised identifiers: the only module that hashes raw PII, and the only producer of ``Sha256Hex``.

Raw email and phone values enter here and leave only as digests; ``TikTokUser`` accepts nothing else for its hashed
fields, so an unhashed value cannot reach the sender. A value that is already 64 hex characters is taken as a
digest made upstream and passes through lowercased (never hashed twice), so hashing is idempotent.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable, Iterable
from datetime import date, datetime
from typing import Any, Final

from consumer.model import Sha256Hex
from consumer.policy import normalize
from consumer.policy.settings import PolicySettings

_HEX_DIGITS: Final = frozenset("0123456789abcdefABCDEF")
_SEPARATOR: Final = "\x1f"  # ASCII unit separator: absent from real ids, so ("ab", "c") and ("a", "bc") differ

Hash = Callable[[object], Sha256Hex | None]
"""Normalise and hash one raw value: a digest, ``None`` when absent, or ``UnusableIdentifierError``."""


def _builtin_sha256() -> Callable[[bytes], Any]:
    """CPython's own SHA-256 (``_sha2`` from 3.12, ``_sha256`` before), else hashlib's. The same digests: hashlib's
    OpenSSL 3 constructor looks the algorithm up on every call, which makes hashing a short identifier about three
    times as costly (several hashes per event on the hot path)."""
    for module in ("_sha2", "_sha256"):
        try:
            constructor: Callable[[bytes], Any] = importlib.import_module(module).sha256
        except (ImportError, AttributeError):
            continue
        return constructor
    return hashlib.sha256


_sha256: Final = _builtin_sha256()


def sha256_hex(text: str) -> Sha256Hex:
    """The lowercase hex SHA-256 of ``text`` encoded as UTF-8."""
    # hot path: a sha256 hexdigest is a digest by construction; digests from records go through prehashed()
    return Sha256Hex._of_hashlib_hexdigest(_sha256(text.encode("utf-8")).hexdigest())


def prehashed(raw: object) -> Sha256Hex | None:
    """``raw`` as a digest if it already is one (64 hex characters, any case, surrounding blanks ignored)."""
    if not isinstance(raw, str):
        return None
    text = raw.strip()
    if len(text) == 64 and _HEX_DIGITS.issuperset(text):
        return Sha256Hex(text.lower())
    return None


def _hasher(normalise: normalize.Normaliser) -> Hash:
    def hash_value(raw: object) -> Sha256Hex | None:
        # hot path: a digest has 64 characters once stripped, so shorter text (almost every value) needs no check
        if isinstance(raw, str) and len(raw) >= 64:
            digest = prehashed(raw)
            if digest is not None:
                return digest
        normalised = normalise(raw)
        return None if normalised is None else sha256_hex(normalised)

    return hash_value


email_digest: Final[Hash] = _hasher(normalize.email)
"""An email as TikTok matches it (trimmed, lower-case, SHA-256), or a digest passed through: ``user.email``, and the
key of a consent-table subject whose ``kind`` is ``email``."""


def device_id_reader(normalise: normalize.Normaliser, hashed: bool) -> normalize.Normaliser:
    """idfa, idfv or gaid as sent: the digest of the normalised id when ``hashed`` (a route's ``hash_device_ids``),
    else the normalised id itself. A value that already is a digest passes through lowercased either way, so a
    device id is never hashed twice."""
    if hashed:
        return _hasher(normalise)

    def as_sent(raw: object) -> str | None:
        digest = prehashed(raw)
        return digest if digest is not None else normalise(raw)

    return as_sent


class IdentifierHasher:
    """One hash function per hashed ``user`` field, configured by the policy section (phone region, external id
    case). Each returns a ``Sha256Hex``, ``None`` for an absent value, or raises ``UnusableIdentifierError``."""

    def __init__(self, policy: PolicySettings) -> None:
        region = policy.phone_default_region
        lowercase = policy.external_id_lowercase
        self.email: Hash = email_digest

        # closures rather than partial(..., keyword=...), which copies its keywords into a new dict per call (hot
        # path: a phone and an external id per event)
        def phone(raw: object) -> str | None:
            return normalize.phone(raw, region)

        def external_id(raw: object) -> str | None:
            return normalize.external_id(raw, lowercase)

        self.phone: Hash = _hasher(phone)
        self.external_id: Hash = _hasher(external_id)
        self.first_name: Hash = _hasher(normalize.name)
        self.last_name: Hash = _hasher(normalize.name)
        self.zip_code: Hash = _hasher(normalize.zip_code)

    def for_field(self, field: str) -> Hash:
        """The hash function of ``TikTokUser`` field ``field`` (one of ``TikTokUser.HASHED``)."""
        hash_value: Hash = getattr(self, field)
        return hash_value


def _canonical(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def derive_event_id(event_name: str, parts: Iterable[object]) -> str:
    """A stable ``event_id`` for a record that carries none: the SHA-256 of the event name and the route's chosen
    record fields (e.g. ``order_id``). Replays and duplicates of one record get the same id, so TikTok dedups them;
    two event names for one order get different ids."""
    joined = _SEPARATOR.join([event_name, *(_canonical(part) for part in parts)])
    return str(_sha256(joined.encode("utf-8")).hexdigest())
