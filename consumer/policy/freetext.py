"""Identifiers hidden in free text and URLs: found however they are encoded, and cut out of URLs piece by piece.

An email or a phone number can reach a text property or a page URL (``?email=jane%40example.com``, a newsletter
link, a form that echoes its fields). Text is scanned in every form a reader could decode it to: as given, percent-
decoded repeatedly (``%2540`` is ``%40`` is ``@``), and with ``+`` read as a space, as query strings encode it. A
URL keeps its attribution (``ttclid``, ``utm_*``): only the query parameters, path segments or fragment that hold an
identifier are removed, and any ``user:password@`` part, which never belongs in an event.
"""

from __future__ import annotations

import re
from typing import Final
from urllib.parse import SplitResult, unquote, unquote_plus, urlsplit, urlunsplit

_MAX_DECODE_ROUNDS: Final = 5  # deeper nesting than anyone encodes by accident; each round costs a scan
_CANDIDATE: Final = re.compile(r"[\d@%+](?:(?<=[@%+])|(?<=\d)[\d\s().\-/]{5,}\d)")
r"""Text without ``@``, ``%``, ``+`` or a run of 7+ digits holds neither pattern (hot path: most values). Found
where ``[@%+]|\d[\d\s().\-/]{5,}\d`` is, but written to start with one character class, so the regex engine skips
to the next digit or sign at C speed instead of trying both branches at every position."""
_EMAIL: Final = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s.]{2,}")
_PHONE: Final = re.compile(
    r"""(?=[+(\d])(?<![\w\-])(?:                              # (the lookahead skips most positions at once)
        \+\s*\(?\d[\d\s().\-]{6,}\d                          # international: +1 415 555 0132, (+44) 20 7946 0958
      | \(\d{2,5}\)\s?\d{3,4}[\s.\-]?\d{3,4}                  # area code in brackets: (415) 555-0132
      | \d{3}[\s.\-]\d{3}[\s.\-]\d{4}                        # North American: 415-555-0132, 415.555.0132
      | 0\d{1,4}[\s.\-]?\d{3,4}[\s.\-]?\d{3,4}                # trunk prefix 0: 020 7946 0958, 0412 345 678
      | 0\d(?:[\s.\-]\d{2}){4}                                # French pairs: 06 12 34 56 78
    )(?!\w)""",
    re.VERBOSE,
)
"""Phone numbers as people write them. A bare digit run without ``+``, a leading 0 or separators is not taken
for a phone (order ids, timestamps); an ISO date (2025-06-03) is not one either."""
_PII_KEY: Final = re.compile(r"e-?mail|phone|mobile|msisdn|(?:^|[_\-.])(?:tel|cell)(?:$|[_\-.])", re.IGNORECASE)
"""Names of query parameters and pass-through properties whose value is an identifier whatever it looks like."""


def decoded_forms(text: str) -> list[str]:
    """``text`` and every distinct form percent-decoding gives it, each also with ``+`` read as a space."""
    forms = [text]
    if "%" not in text and "+" not in text:
        return forms  # hot path: nothing to decode
    current = text
    for _ in range(_MAX_DECODE_ROUNDS):
        decoded = unquote(current)
        if decoded == current:
            break
        forms.append(decoded)
        current = decoded
    plus_read = [unquote_plus(form) for form in forms if "+" in form]
    return forms + plus_read


def holds_pii(text: str) -> bool:
    """Whether any decoded form of ``text`` holds an email address or a phone number."""
    # hot path: letters alone (most text properties: product, apparel) hold no digit, @, % or +; str.isalpha says so
    # in C at a fraction of the regex scan's cost
    if text.isalpha() or _CANDIDATE.search(text) is None:
        return False
    return any(
        ("@" in form and _EMAIL.search(form) is not None) or _PHONE.search(form) is not None
        for form in decoded_forms(text)
    )


def names_pii(key: str) -> bool:
    """Whether a parameter or property name says its value is an identifier (``email``, ``customer_phone``)."""
    return any(_PII_KEY.search(form) is not None for form in decoded_forms(key))


def scrub_url(url: str) -> str | None:
    """``url`` without the query parameters, path segments and fragment that hold an identifier, and without
    credentials; the rest is kept byte for byte. None when nothing of a URL is left, or text that is no URL holds
    an identifier."""
    if _CANDIDATE.search(url) is None:
        return url  # hot path: nothing to decode, nothing to find
    try:
        parts = urlsplit(url)
    except ValueError:  # an unbalanced IPv6 bracket: not a URL, judge it as text
        return None if holds_pii(url) else url
    if not parts.scheme or not parts.hostname:
        return None if holds_pii(url) else url
    if holds_pii(parts.hostname):
        return None
    scrubbed = SplitResult(
        parts.scheme,
        _host_and_port(parts),
        "/".join(segment for segment in parts.path.split("/") if not holds_pii(segment)),
        _clean_query(parts.query),
        _clean_fragment(parts.fragment),
    )
    cleaned = urlunsplit(scrubbed)
    return None if holds_pii(cleaned) else cleaned  # an identifier spanning parts (a raw "&" in an email)


def _host_and_port(parts: SplitResult) -> str:
    """The netloc without any ``user:password@``."""
    return parts.netloc.rpartition("@")[2]


def _clean_fragment(fragment: str) -> str:
    """A ``key=value&...`` fragment (single-page apps route with them) is cleaned like a query; other text goes
    whole if it holds an identifier."""
    if "=" in fragment:
        return _clean_query(fragment)
    return "" if holds_pii(fragment) else fragment


def _clean_query(query: str) -> str:
    """The ``&``-separated pairs of ``query`` that neither name nor hold an identifier, as they were written."""
    if not query:
        return query
    kept = []
    for pair in query.split("&"):
        key, _, value = pair.partition("=")
        if names_pii(key) or holds_pii(key) or holds_pii(value):
            continue
        kept.append(pair)
    return "&".join(kept)
