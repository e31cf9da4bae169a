"""``properties`` (with ``contents``), ``page``, ``lead``, ``app`` and ``ad`` of a TikTok event, compiled from a
route.

TikTok's typing rules apply here: ids as strings, ``value``/``price`` as numbers, ``quantity`` as a whole number,
``currency`` in ISO 4217 (a violation is a ``validation_error``: TikTok would reject the request). Custom properties
(enrichment such as ``predicted_ltv``, ``customer_segment`` or lead attributes) pass through as JSON values. Free
text that holds an email or an international phone number is dropped and reported: identifiers belong in ``user``,
hashed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

from consumer.errors import MappingError
from consumer.fields.paths import Getter, compile_path
from consumer.fields.values import to_id, to_int, to_json, to_number
from consumer.mapping.settings import (
    AdSettings,
    AppSettings,
    ContentsSettings,
    LeadSettings,
    PageSettings,
    RouteSettings,
    ValueSettings,
)
from consumer.policy.currency import ISO_4217
from consumer.policy.errors import EventValidationError
from consumer.policy.freetext import holds_pii, names_pii, scrub_url
from consumer.policy.identifiers import DropHandler

Convert = Callable[[Any], Any]


def compile_value(settings: ValueSettings) -> Getter:
    """A getter for a value spec: a constant, or a field path with an optional default."""
    if settings.from_ is None:
        constant = settings.value
        return lambda _record: constant
    read = compile_path(settings.from_)
    default = settings.default
    if default is None:
        return read

    def read_or_default(record: Any) -> Any:
        value = read(record)
        return default if value is None else value

    return read_or_default


def to_currency(value: object) -> str:
    """An ISO 4217 code, upper-cased."""
    if not isinstance(value, str):
        raise ValueError("not a currency code")
    code = value.strip().upper()
    if code not in ISO_4217:
        raise ValueError("not an ISO 4217 currency code")
    return code


def to_text(value: object) -> str:
    """Text properties (content_type, description): text as is, numbers as their decimal text."""
    return value if isinstance(value, str) else to_id(value)


_URL_KEYS: Final = frozenset({"url", "referrer"})

_CONVERTERS: Final[dict[str, Convert]] = {
    "value": to_number,
    "price": to_number,
    "quantity": to_int,
    "currency": to_currency,
    "content_id": to_id,
    "order_id": to_id,
    "shop_id": to_id,
    "lead_id": to_id,
    "content_type": to_text,
    "content_name": to_text,
    "content_category": to_text,
    "brand": to_text,
    "description": to_text,
    "search_string": to_text,
    "url": to_text,
    "referrer": to_text,
    "lead_event_source": to_text,
    "app_id": to_id,
    "app_name": to_text,
    "app_version": to_text,
    "callback": to_text,
}


def _holds_pii(value: Any) -> bool:
    if isinstance(value, str):
        return holds_pii(value)
    if value is None or isinstance(value, int | float):
        return False  # hot path: settles numbers before the costlier abstract Mapping check
    if isinstance(value, Mapping):
        return any(names_pii(str(key)) or _holds_pii(item) for key, item in value.items())
    if isinstance(value, list):
        return any(_holds_pii(item) for item in value)
    return False


def _pii_scan(convert: Convert) -> Callable[[Any], bool] | None:
    """How the results of ``convert`` are checked for PII, chosen once (hot path): not at all for numbers and currency
    codes (they can hold neither ``@`` nor ``+``), as text for ids and text, in depth for pass-through JSON."""
    if convert in (to_number, to_int, to_currency):
        return None
    if convert in (to_id, to_text):
        return holds_pii
    return _holds_pii


class _Fields:
    """A fixed set of (key, getter, converter, PII scan) read from one record or line item into a dict. URL fields
    (``url``, ``referrer``) are not dropped for an identifier: the parts that hold one are cut out of them."""

    def __init__(self, specs: Mapping[str, ValueSettings | None], where: str) -> None:
        converters = ((key, spec, _CONVERTERS.get(key, to_json)) for key, spec in specs.items() if spec is not None)
        self._fields = tuple(
            (key, compile_value(spec), convert, _pii_scan(convert)) for key, spec, convert in converters
        )
        self._where = where

    def read(self, record: Any, on_drop: DropHandler) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for key, read, convert, pii_scan in self._fields:
            raw = read(record)
            if raw is None:
                continue
            try:
                value = convert(raw)
            except ValueError as error:
                raise EventValidationError(f"{self._where}{key}: {error}") from None
            if key in _URL_KEYS:
                value = self._scrubbed_url(key, value, on_drop)
                if value is None:
                    continue
            elif pii_scan is not None and pii_scan(value):
                on_drop(f"{self._where}{key}", "pii")
                continue
            out[key] = value
        return out

    def _scrubbed_url(self, key: str, url: str, on_drop: DropHandler) -> str | None:
        """``url`` without the parts that hold an identifier (reported as a ``pii`` drop), None if none is left."""
        scrubbed = scrub_url(url)
        if scrubbed != url:
            on_drop(f"{self._where}{key}", "pii")
        return scrubbed


class ContentsPlan:
    """``properties.contents``: one entry per line item of the record's array."""

    def __init__(self, settings: ContentsSettings) -> None:
        self._items = compile_path(settings.from_)
        self._path = settings.from_
        keys = ("content_id", "content_name", "content_category", "brand", "quantity", "price")
        self._fields = _Fields({key: getattr(settings, key) for key in keys}, "contents.")

    def build(self, record: Any, on_drop: DropHandler) -> list[dict[str, Any]] | None:
        items = self._items(record)
        if items is None:
            return None
        if not isinstance(items, list | tuple):
            raise MappingError(f"contents.from: field {self._path!r} is not an array")
        return [self._fields.read(item, on_drop) for item in items]


class PropertiesPlan:
    """``properties``: mapped keys, pass-through map fields, and ``contents``."""

    def __init__(self, route: RouteSettings) -> None:
        self._fields = _Fields(route.properties, "properties.")
        self._spreads = tuple((path, compile_path(path)) for path in route.properties_from)
        self._contents = None if route.contents is None else ContentsPlan(route.contents)

    def build(self, record: Any, on_drop: DropHandler) -> dict[str, Any]:
        properties: dict[str, Any] = {}
        for path, read in self._spreads:
            properties.update(self._passed_through(path, read(record), on_drop))
        properties.update(self._fields.read(record, on_drop))
        if self._contents is not None:
            contents = self._contents.build(record, on_drop)
            if contents:
                properties["contents"] = contents
        if "value" in properties and "currency" not in properties:
            raise EventValidationError("properties.value: a value needs a currency (map properties.currency)")
        return properties

    @staticmethod
    def _passed_through(path: str, entries: Any, on_drop: DropHandler) -> dict[str, Any]:
        if entries is None:
            return {}
        if not isinstance(entries, Mapping):
            raise MappingError(f"properties_from: field {path!r} is not a map")
        out: dict[str, Any] = {}
        for key, raw in entries.items():
            if raw is None:
                continue
            if names_pii(str(key)):
                on_drop("properties_from", "pii")
                continue
            try:
                value = to_json(raw)
            except ValueError as error:
                raise EventValidationError(f"properties_from {path!r}: {error}") from None
            if _holds_pii(value):
                on_drop("properties_from", "pii")
                continue
            out[str(key)] = value
        return out


class PagePlan:
    """``page {url, referrer}``; the query parameters, path segments and fragment of a URL that hold an email or
    phone (newsletter links often do) are cut out, the attribution is kept."""

    def __init__(self, settings: PageSettings) -> None:
        self._fields = _Fields({"url": settings.url, "referrer": settings.referrer}, "page.")

    def build(self, record: Any, on_drop: DropHandler) -> dict[str, str] | None:
        return self._fields.read(record, on_drop) or None


class LeadPlan:
    """``lead {lead_id, lead_event_source}``; ``crm`` events must carry a lead id."""

    def __init__(self, settings: LeadSettings, required: bool) -> None:
        self._fields = _Fields({"lead_id": settings.lead_id, "lead_event_source": settings.lead_event_source}, "lead.")
        self._required = required

    def build(self, record: Any, on_drop: DropHandler) -> dict[str, str] | None:
        lead = self._fields.read(record, on_drop)
        if self._required and not lead.get("lead_id", "").strip():
            raise EventValidationError("lead.lead_id: crm events need a lead id and the record has none")
        return lead or None


class AppPlan:
    """``app {app_id, app_name, app_version}`` and ``ad {callback}`` of an app event; an app event must carry an
    app id (TikTok's integrations always send one)."""

    def __init__(self, app: AppSettings, ad: AdSettings | None) -> None:
        keys = ("app_id", "app_name", "app_version")
        self._app = _Fields({key: getattr(app, key) for key in keys}, "app.")
        self._ad = _Fields({"callback": None if ad is None else ad.callback}, "ad.")

    def build(self, record: Any, on_drop: DropHandler) -> tuple[dict[str, str], dict[str, str] | None]:
        """(app, ad) of one record; ``ad`` is ``None`` when the record has no callback."""
        app = self._app.read(record, on_drop)
        if not app.get("app_id", "").strip():
            raise EventValidationError("app.app_id: app events need an app id and the record has none")
        return app, self._ad.read(record, on_drop) or None
