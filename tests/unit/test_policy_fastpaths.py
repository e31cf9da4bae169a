"""The hot path's shortcuts give exactly what the general code gives: phones, names, PII scans and digests.

Each shortcut is compared with the general path it replaces (phonenumbers' parser, a regex), on every country
calling code, on the inputs of the existing test tables, and on generated inputs.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import given
from hypothesis import strategies as st
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE

from consumer.config import load_config
from consumer.demo.samples import SAMPLE_TIME, sample_record
from consumer.mapping.translator import Translator
from consumer.model import DomainRecord, Sha256Hex, SourceRef, TikTokUser
from consumer.policy import freetext, normalize
from consumer.policy.hashing import IdentifierHasher, prehashed, sha256_hex
from consumer.policy.identifiers import ClickIdReader
from consumer.policy.normalize import UnusableIdentifierError
from consumer.policy.settings import PolicySettings, TtclidSettings

CONSUMER = Path(__file__).resolve().parents[2] / "consumer"
EXAMPLE_CONFIG = CONSUMER.parent / "config" / "relay.example.yaml"
REGIONS = [None, "US", "GB", "DE", "IT", "BR", "IN"]
parse_phone = normalize._e164_parsed.__wrapped__  # the parser itself, past its cache
fast_phone = normalize._e164_fast


def outcome(normalise: Callable[[], str | None]) -> str | None:
    """What a phone normaliser decides: the E.164 text, ``None`` (undecided), or ``"unusable"``."""
    try:
        return normalise()
    except UnusableIdentifierError:
        return "unusable"


def assert_fast_path_agrees(text: str, region: str | None) -> bool:
    """The fast path either leaves ``text`` to the parser or decides exactly as the parser does; True if decided."""
    fast = outcome(lambda: fast_phone(text))
    if fast is not None:
        assert fast == outcome(lambda: parse_phone(text, region)), text
    return fast is not None


def test_fast_path_agrees_with_the_parser_for_every_country_code() -> None:
    """For every calling code, national lengths giving 8-15 digits, and every leading national digit (so every
    national prefix pattern is met), the fast path's E.164 or refusal is the parser's."""
    decided = 0
    for code in COUNTRY_CODE_TO_REGION_CODE:
        for digits in range(8, 16):
            national_length = digits - len(str(code))
            for lead in "0123456789":
                national = (lead + "234567890123456")[:national_length]
                decided += assert_fast_path_agrees(f"+{code}{national}", None)
                decided += assert_fast_path_agrees(f"+{code} {national[:3]}-{national[3:]}", "US")
    assert decided > len(COUNTRY_CODE_TO_REGION_CODE) * 8  # the comparison is not vacuous


# The phones of the existing tables (test_policy_hashing, test_mapping_privacy) and the samples.
TABLE_PHONES = [
    "(+1)2133734253",
    "+1 213-373-4253",
    "213-373-4253",
    "+44 07911 123456",
    "07911 123456",
    "0049 30 1234567",
    "not a phone",
    "12",
    "+1 21",
    "call me maybe 555",
    "+1 415-555-0132",
    "+1 415 555 0132",
    "+14155550132",
    "(415) 555-0132",
    "415.555.0132",
    "+014155550132",
    "+0 415 555 0132",
    "+39 06 1234 5678",
    "+39 0000 000 000",
]


@pytest.mark.parametrize("region", REGIONS)
@pytest.mark.parametrize("text", TABLE_PHONES)
def test_fast_path_agrees_with_the_parser_on_the_test_tables(text: str, region: str | None) -> None:
    """Every phone of the existing tests is decided by the fast path as by the parser, or left to the parser."""
    assert_fast_path_agrees(text, region)


@pytest.mark.parametrize(("text", "e164"), [("+1 415-555-0132", "+14155550132"), ("+49 30 1234567", "+49301234567")])
def test_common_international_shape_takes_the_fast_path(text: str, e164: str) -> None:
    """``+``, country code and digits among spaces and hyphens is read without the parser."""
    assert fast_phone(text) == e164


@pytest.mark.parametrize(
    "text",
    [
        "+44 07911 123456",
        "(+1)2133734253",
        "+1 (415) 555-0132",
        "+\uff11 \uff14\uff11\uff15 \uff15\uff15\uff15 \uff10\uff11\uff13\uff12",
    ],
)
def test_other_notations_are_left_to_the_parser(text: str) -> None:
    """A trunk 0 after the country code, brackets or non-ASCII digits: the fast path does not decide."""
    assert fast_phone(text) is None


separated_digits = st.lists(
    st.tuples(st.sampled_from("0123456789"), st.sampled_from(["", "", "", " ", "-", "  ", " - "])),
    min_size=6,
    max_size=17,
).map(lambda parts: "".join(digit + separator for digit, separator in parts))


@given(
    country=st.sampled_from(sorted(COUNTRY_CODE_TO_REGION_CODE)),
    rest=separated_digits,
    lead=st.sampled_from(["", " ", "-"]),
    region=st.sampled_from(REGIONS),
)
def test_fast_path_agrees_with_the_parser_on_generated_numbers(
    country: int, rest: str, lead: str, region: str | None
) -> None:
    """Generated ``+`` numbers, spaced and hyphenated anyhow, in any default region: fast path equals parser."""
    assert_fast_path_agrees(f"+{lead}{country}{rest}".strip(), region)


@given(text=st.text(alphabet="+0123456789 -().x#\u0663\uff11", max_size=30), region=st.sampled_from(REGIONS))
def test_fast_path_never_decides_against_the_parser(text: str, region: str | None) -> None:
    """For any text at all, when the fast path decides, it decides as the parser does."""
    assert_fast_path_agrees(text.strip(), region)


def test_repeated_national_phone_is_served_from_the_cache() -> None:
    """A phone in another notation is parsed once and then served from the bounded cache, with the same result."""
    first = normalize.phone(" (415) 555-0199 ", "US")
    hits = normalize._e164_parsed.cache_info().hits
    assert normalize.phone("(415) 555-0199", "US") == first == "+14155550199"
    assert normalize._e164_parsed.cache_info().hits == hits + 1
    assert normalize._e164_parsed.cache_info().maxsize is not None


WHITESPACE = re.compile(r"\s+")


@given(raw=st.text())
def test_names_collapse_whitespace_as_the_regex_did(raw: str) -> None:
    """Names and places: lowercased, whitespace runs (Unicode included) collapsed to one space, as ``\\s+`` does."""
    text = raw.strip()
    assert normalize.name(raw) == (WHITESPACE.sub(" ", text.lower()) if text else None)


@given(raw=st.text())
def test_zip_codes_drop_whitespace_as_the_regex_did(raw: str) -> None:
    """Postal codes: lowercased, every whitespace character (Unicode included) removed, as ``\\s+`` does."""
    text = raw.strip()
    assert normalize.zip_code(raw) == (WHITESPACE.sub("", text.lower()) if text else None)


def scanned_by_the_regexes(text: str) -> bool:
    """``holds_pii`` without its cheap pre-test: the two patterns over every decoded form."""
    return any(
        freetext._EMAIL.search(form) is not None or freetext._PHONE.search(form) is not None
        for form in freetext.decoded_forms(text)
    )


@given(text=st.one_of(st.text(), st.text(alphabet="+@%()-. 0123456789ab\n")))
def test_pii_pre_test_skips_only_text_the_patterns_reject(text: str) -> None:
    """The pre-test of ``holds_pii`` (``@``, ``%``, ``+`` or a digit run) changes no answer: it only skips work."""
    assert freetext.holds_pii(text) == scanned_by_the_regexes(text)


def test_text_and_id_properties_holding_an_email_are_dropped() -> None:
    """Ids and text properties are still scanned for PII: an email in ``order_id`` is dropped and reported."""
    translator = Translator(load_config(EXAMPLE_CONFIG).translation)
    record = DomainRecord("com.example.commerce.OrderPaid", sample_record("OrderPaid", order_id="jane@example.com"))
    now_ms = int(SAMPLE_TIME.timestamp() * 1000) + 60_000
    explanation = translator.explain(record, SourceRef("orders.paid", 0, 0), now_ms)
    assert ("properties.order_id", "pii") in explanation.dropped


@given(text=st.text())
def test_computed_digest_passes_the_validating_constructor(text: str) -> None:
    """``sha256_hex`` builds its ``Sha256Hex`` without the pattern check; the checked constructor accepts it."""
    digest = sha256_hex(text)
    assert type(digest) is Sha256Hex
    assert Sha256Hex(str(digest)) == digest == hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.parametrize("raw", ["g" * 64, "a" * 63, "a" * 65, " " + "A" * 63 + "Z "])
def test_record_values_that_are_not_digests_are_hashed_not_trusted(raw: str) -> None:
    """A 64-character value from a record is taken as a digest only when it is hex; otherwise it is hashed."""
    hasher = IdentifierHasher(PolicySettings())
    assert prehashed(raw) is None
    assert hasher.external_id(raw) == hashlib.sha256(raw.strip().encode()).hexdigest()


@pytest.mark.parametrize("raw", ["alice@example.com", "A" * 64, "a" * 63, " " + "a" * 64])
def test_the_public_digest_constructor_refuses_what_is_not_a_digest(raw: str) -> None:
    """``Sha256Hex(...)`` keeps its pattern check: only ``hashing`` skips it, for digests it has just computed."""
    with pytest.raises(ValueError, match="SHA-256"):
        Sha256Hex(raw)


HASHED_FIELD_VALUES = [
    *((name, bad) for name in ("email", "phone", "external_id") for bad in ("raw", ("raw",), (sha256_hex("x"), "raw"))),
    *((name, "raw") for name in ("first_name", "last_name", "zip_code")),
]


@pytest.mark.parametrize(("name", "value"), HASHED_FIELD_VALUES)
def test_user_refuses_a_plain_string_in_every_hashed_field(name: str, value: object) -> None:
    """The cheap check of ``TikTokUser`` still refuses raw text in each hashed field, alone or among digests, and
    names the field; digests and absent values pass."""
    with pytest.raises(TypeError, match=f"TikTokUser.{name} "):
        TikTokUser(**{name: value})  # type: ignore[arg-type]
    digest = sha256_hex("x")
    hashed = TikTokUser(email=(digest,), phone=(digest, digest), external_id=(), first_name=digest, zip_code=None)
    assert hashed.to_json()["phone"] == [digest, digest]


def test_only_hashing_uses_the_trusted_digest_constructor() -> None:
    """The unchecked constructor is called from ``consumer/policy/hashing.py`` alone (on hashlib's output)."""
    callers = {
        path.relative_to(CONSUMER).as_posix()
        for path in CONSUMER.rglob("*.py")
        if "._of_hashlib_hexdigest(" in path.read_text(encoding="utf-8")
    }
    assert callers == {"policy/hashing.py"}


URL_PIECES = st.sampled_from(
    [
        "https://",
        "shop.example.com",
        "/",
        "?",
        "#",
        "&",
        "=",
        "+",
        "%",
        "%74",
        "%2B",
        "ttclid",
        "ttclid=",
        "click-1",
        " ",
        "\t",
        "\n",
        "[",
        "]",
        "[::1]",
        "é",
        "\uff05",
        "\uff03",
        ";",
        ":",
        "@",
        "user:pw@",
        "%E2%82%AC",
        "%zz",
    ]
)


@given(st.lists(URL_PIECES, max_size=14).map("".join))
def test_click_id_from_a_url_is_what_parse_qsl_of_urlsplit_reads(url: str) -> None:
    """The landing URL's ttclid is the first non-blank ``ttclid`` of ``parse_qsl(urlsplit(url).query)``, stripped,
    in a URL that holds ``ttclid=``; a URL urlsplit refuses is refused alike (ValueError)."""

    def general() -> str | None:
        if "ttclid=" not in url:
            return None  # the reader's cheap test before parsing
        try:
            values = [value.strip() for key, value in parse_qsl(urlsplit(url).query) if key == "ttclid"]
        except ValueError:
            return "refused"
        return next((value for value in values if value), None)

    def fast() -> str | None:
        try:
            return ClickIdReader(TtclidSettings.model_validate({"from_url": ["url"]})).read({"url": url})
        except ValueError:
            return "refused"

    assert fast() == general()


CANDIDATE_TEXT = st.text(alphabet=st.sampled_from(list("0123456789 ()./-\t@%+abZ\u0663\u00e9")), max_size=20)


@given(CANDIDATE_TEXT)
def test_the_candidate_prefilter_finds_what_its_plain_form_finds(text: str) -> None:
    """The scanner's prefilter, written to start with one character class, finds a candidate exactly where
    ``[@%+]|\\d[\\d\\s().\\-/]{5,}\\d`` does (Unicode digits included)."""
    plain = re.compile(r"[@%+]|\d[\d\s().\-/]{5,}\d")
    assert (freetext._CANDIDATE.search(text) is None) == (plain.search(text) is None)


@given(st.one_of(st.text(alphabet=st.characters(categories=["L"]), max_size=20), st.text(max_size=20)))
def test_letters_alone_are_judged_as_the_patterns_judge_them(text: str) -> None:
    """``holds_pii`` passes text of letters alone (most text properties: ``product``, ``apparel``) without the regex
    scan: the patterns find nothing in it either, Unicode letters included."""
    assert freetext.holds_pii(text) == scanned_by_the_regexes(text)
