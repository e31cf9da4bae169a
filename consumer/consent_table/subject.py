"""Who a record is about, as the consent table keys it: pure (``ConsentSubject`` for ``OutboundEvent.subject``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consumer.consent_table.entry import PurposeBits
from consumer.consent_table.settings import ConsentSubjectSettings
from consumer.consent_table.table import subject_digest
from consumer.fields.paths import compile_path
from consumer.model import ConsentSubject
from consumer.policy import normalize
from consumer.policy.hashing import email_digest


class SubjectReader:
    """Reads a route's subject from a record: a ``ConsentSubject``, or ``None`` when the record names nobody or no
    usable key (then only the record's own consent fields apply)."""

    def __init__(self, settings: ConsentSubjectSettings, purposes: PurposeBits) -> None:
        self._read = compile_path(settings.from_)
        # email: the key a consent service publishes is the address hashed as for TikTok's ``user.email``
        self._key: Callable[[object], str | None] = email_digest if settings.kind == "email" else normalize.text_of
        self._purposes = purposes.mask(settings.purposes)

    def __call__(self, record: Any, event_ms: int) -> ConsentSubject | None:
        raw = self._read(record)
        try:
            key = None if raw is None else self._key(raw)
        except normalize.UnusableIdentifierError:
            # a subject that cannot be normalised cannot be a key the consent service published
            return None
        return None if not key else ConsentSubject(subject_digest(key), self._purposes, event_ms)
