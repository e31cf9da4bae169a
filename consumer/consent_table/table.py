"""The consent table in memory and the decision at send time: pure, no I/O.

A dict from a 16-byte BLAKE2b digest of the subject id to one packed int (``entry``). Keys are digests, so the table
holds no customer id or email, and every subject costs the same: a 16-byte ``bytes`` (49 bytes), an int (32 bytes)
and its dict slot; ``bench/consent.py`` measures the total per subject. One writer (the reader thread) and readers
on the event loop share it: single dict operations are atomic under the GIL.
"""

from __future__ import annotations

import hashlib
from typing import Final

from consumer.consent_table.entry import PURPOSE_BITS, PURPOSE_MASK
from consumer.model import ConsentSubject

DIGEST_BYTES: Final = 16
CONSENT_WITHDRAWN_LATER: Final = "consent_withdrawn_later"
"""Audit reason: the subject denied a purpose the event needs after the event happened."""
CONSENT_DENIED_IN_TABLE: Final = "consent_denied_in_table"
"""Audit reason: the table's denial is older than the event (the record itself claimed consent)."""


def subject_digest(subject_id: str | bytes) -> bytes:
    """The table key of a subject id (a Kafka key's bytes, or the text a record gives)."""
    data = subject_id.encode("utf-8") if isinstance(subject_id, str) else subject_id
    return hashlib.blake2b(data, digest_size=DIGEST_BYTES).digest()


class ConsentTable:
    """The latest consent decision per subject digest."""

    __slots__ = ("_entries",)

    def __init__(self) -> None:
        self._entries: dict[bytes, int] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def put(self, digest: bytes, entry: int) -> None:
        """The subject's latest value (the topic's order decides: the last value read wins, as compaction keeps)."""
        self._entries[digest] = entry

    def delete(self, digest: bytes) -> None:
        """A tombstone: the subject is forgotten."""
        self._entries.pop(digest, None)

    def get(self, digest: bytes) -> int | None:
        return self._entries.get(digest)

    def withheld_reason(self, subject: ConsentSubject) -> str | None:
        """``None`` when the table lets the event go, else the audit reason. Hot path (every event, every send)."""
        entry = self._entries.get(subject.digest)
        if entry is None or not entry & subject.purposes & PURPOSE_MASK:
            return None
        return CONSENT_WITHDRAWN_LATER if entry >> PURPOSE_BITS > subject.event_ms else CONSENT_DENIED_IN_TABLE
