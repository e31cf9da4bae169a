"""The sandbox's own check that no raw identifier arrives: email and phone patterns in the bodies it receives.

Deliberately independent of the relay's policy code (``consumer.policy.freetext``), so that a gap there shows up
here. A body is read as a receiver might decode it: as sent, percent-decoded (repeatedly: ``%2540`` is ``%40`` is
``@``), and with ``+`` as a space; each distinct email address or phone number any reading shows is one hit.
Hashed identifiers (64 hex characters in quotes) are taken out first: they cannot hold one, and they are most of
a body. The body is scanned whole, as bytes, not string by string: the sandbox also serves the benchmarks.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import unquote_to_bytes

_HASHED: Final = re.compile(rb'"[0-9a-f]{64}"')
_EMAIL: Final = re.compile(rb"[\w.!#$%&'*+\-=?^`{|}~]+@[\w\-]+(?:\.[\w\-]+)*\.[A-Za-z]{2,}")
_PHONE: Final = re.compile(
    rb"(?:\+\s?\(?\d{1,3}\)?(?:[\s.\-]?\d){6,14}"  # international: +1 415 555 0132
    rb"|\(\d{2,5}\)\s?\d{3,4}[\s.\-]?\d{3,4}"  # (415) 555-0132
    rb"|\d{3}[.\-\s]\d{3}[.\-\s]\d{4}(?!\w)"  # 415-555-0132
    rb"|0\d{1,4}(?:[\s.\-]\d{2,4}){2,4}(?!\w))"  # 020 7946 0958, 06 12 34 56 78
)
"""No lookbehind in the pattern (it triples the scan's cost): ``_inside_a_word`` rejects the rare candidates that
continue a word or an id (``SKU-0412345678``)."""
_WORD_BYTES: Final = frozenset(b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-")
_ROUNDS: Final = 5


def _readings(body: bytes) -> set[bytes]:
    readings = {body}
    current = body
    for _ in range(_ROUNDS if b"%" in body else 0):
        current = unquote_to_bytes(current)
        readings.add(current)
    return readings | {unquote_to_bytes(reading.replace(b"+", b" ")) for reading in readings if b"+" in reading}


def pii_hits(body: bytes) -> int:
    """The distinct email addresses and phone numbers that some reading of ``body`` shows."""
    found: set[bytes] = set()
    for reading in _readings(_HASHED.sub(b'""', body)):
        if b"@" in reading:
            found.update(match.group() for match in _EMAIL.finditer(reading))
        found.update(
            match.group().replace(b" ", b"")
            for match in _PHONE.finditer(reading)
            if not _inside_a_word(reading, match.start())
        )
    return len(found)


def _inside_a_word(text: bytes, start: int) -> bool:
    return start > 0 and text[start - 1] in _WORD_BYTES and text[start] not in b"+("
