"""Who a record is about, as the consent table keys it: pure (``ConsentSubject`` for ``OutboundEvent.subject``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consumer.consent_table.entry import PurposeBits
from consumer.consent_table.table import subject_digest
from consumer.mapping.paths import compile_path
from consumer.mapping.settings import ConsentSubjectSettings
from consumer.model import ConsentSubject
from consumer.policy import normalize
from consumer.policy.hashing import prehashed, sha256_hex


def _email_key(raw: object) -> str | None:
    """The key a consent service publishes for an email: the lowercase SHA-256 hex of the normalised address (a
    value that already is a digest passes through, as for TikTok's ``user.email``)."""
    digest = prehashed(raw)
    if digest is not None:
        return str(digest)
    email = normalize.email(raw)
    return None if email is None else str(sha256_hex(email))


class SubjectReader:
    """Reads a route's subject from a record: a ``ConsentSubject``, or ``None`` when the record names nobody or no
    usable key (then only the record's own consent fields apply)."""

    def __init__(self, settings: ConsentSubjectSettings, purposes: PurposeBits) -> None:
        self._read = compile_path(settings.from_)
        self._key: Callable[[object], str | None] = _email_key if settings.kind == "email" else normalize.text_of
        self._purposes = purposes.mask(settings.purposes)

    def __call__(self, record: Any, event_ms: int) -> ConsentSubject | None:
        raw = self._read(record)
        try:
            key = None if raw is None else self._key(raw)
        except normalize.UnusableIdentifierError:
            # a subject that cannot be normalised cannot be a key the consent service published
            return None
        return None if not key else ConsentSubject(subject_digest(key), self._purposes, event_ms)
