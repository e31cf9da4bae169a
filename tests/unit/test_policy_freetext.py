"""Identifiers hidden in free text and URLs: found however they are encoded, cut out of URLs piece by piece."""

from __future__ import annotations

import pytest

from consumer.policy.freetext import holds_pii, names_pii, scrub_url

HIDDEN = [
    "jane@example.com",
    "jane%40example.com",
    "jane%2540example.com",  # encoded twice
    "jane%252540example.com",  # three times
    "Jane%40Example.COM",
    "%6a%61%6e%65%40%65%78%61%6d%70%6c%65%2e%63%6f%6d",  # every character, lower-case hex
    "%6A%61%6E%65%40%65%78%61%6D%70%6C%65%2E%63%6F%6D",  # upper-case hex
    "jane+shop%40example.com",
    "+14155550132",
    "%2B14155550132",
    "%252B14155550132",
    "+1 415 555 0132",
    "+1+415+555+0132",  # + for space in a query string
    "(415) 555-0132",
    "%28415%29%20555-0132",
    "415-555-0132",
    "415.555.0132",
    "415+555+0132",
    "020 7946 0958",
    "0412 345 678",
    "06 12 34 56 78",
    "call me on 415-555-0132 please",
]

NOT_PII = [
    "Spring sale",
    "order-1001",
    "4155550132",  # a bare digit run: an order id as much as a phone
    "1700000000",
    "2025-06-03",
    "2025-06-03T12:00:00Z",
    "203.0.113.7",
    "SKU-0412345678",
    "E.C.P.CqgBxxxx-yy_zz",
    "100%",
    "50% off + free shipping",
    "123e4567-e89b-12d3-a456-426614174000",
]


@pytest.mark.parametrize("text", HIDDEN)
def test_identifiers_are_found_however_encoded(text: str) -> None:
    """Percent-encoded (once or repeatedly, any hex case), + for space, national or international: found."""
    assert holds_pii(text)


@pytest.mark.parametrize("text", NOT_PII)
def test_ordinary_text_is_not_taken_for_an_identifier(text: str) -> None:
    """Ids, timestamps, dates, addresses and prices stay: a bare digit run is not a phone."""
    assert not holds_pii(text)


@pytest.mark.parametrize("key", ["email", "e-mail", "customer_phone", "Mobile", "tel", "home_tel", "msisdn", "e%6Dail"])
def test_parameter_names_that_say_identifier(key: str) -> None:
    """A parameter or property named for an identifier is one, whatever its value looks like."""
    assert names_pii(key)


@pytest.mark.parametrize("key", ["utm_source", "ttclid", "hotel", "excellent", "variant", "q"])
def test_ordinary_parameter_names(key: str) -> None:
    assert not names_pii(key)


URLS = [
    # (given, sent)
    (
        "https://shop.example/p?email=jane%40example.com&ttclid=E.C.P.abc&utm_source=tiktok",
        "https://shop.example/p?ttclid=E.C.P.abc&utm_source=tiktok",
    ),
    ("https://shop.example/p?phone=%2B14155550132&ttclid=abc", "https://shop.example/p?ttclid=abc"),
    ("https://shop.example/p?contact=4155550132&ttclid=abc", "https://shop.example/p?contact=4155550132&ttclid=abc"),
    ("https://shop.example/p?mobile=4155550132&ttclid=abc", "https://shop.example/p?ttclid=abc"),
    ("https://shop.example/p?c=jane%2540example.com", "https://shop.example/p"),
    ("https://shop.example/p?q=%28415%29+555-0132&page=2", "https://shop.example/p?page=2"),
    ("https://shop.example/u/jane%40example.com/orders?ttclid=abc", "https://shop.example/u/orders?ttclid=abc"),
    ("https://shop.example/u/+14155550132/", "https://shop.example/u/"),
    ("https://jane%40example.com:pw@shop.example/p?x=1", "https://shop.example/p?x=1"),
    ("https://shop.example/p#email=jane@example.com&tab=2", "https://shop.example/p#tab=2"),
    ("https://shop.example/p#jane@example.com", "https://shop.example/p"),
    ("https://shop.example/p?id=1700000000&d=2025-06-03", "https://shop.example/p?id=1700000000&d=2025-06-03"),
    ("https://shop.example/sale/50%25-off?ttclid=abc", "https://shop.example/sale/50%25-off?ttclid=abc"),
]


@pytest.mark.parametrize(("given", "sent"), URLS)
def test_url_keeps_everything_but_the_identifiers(given: str, sent: str) -> None:
    """Only the offending query parameters, path segments, fragment and credentials go; attribution stays."""
    assert scrub_url(given) == sent


def test_identifier_spanning_parameters_drops_the_url() -> None:
    """An unencoded ``&`` inside an email splits it over two parameters: neither holds it, the URL does."""
    assert scrub_url("https://shop.example/?utm=x&email=&@example.com") is None


def test_text_that_is_no_url_is_dropped_whole_when_it_holds_an_identifier() -> None:
    assert scrub_url("mailto jane%40example.com") is None
    assert scrub_url("/relative/path?x=1") == "/relative/path?x=1"
