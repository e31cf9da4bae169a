"""The ``user`` object of a TikTok event: read, minimised, normalised and hashed.

Data minimisation happens when a route is compiled: an identifier that the route's ``share`` list leaves out gets no
reader at all, so it is never even read from a record. An identifier that is present but unusable is dropped from
the event (the event still goes) and reported to ``on_drop``, which counts it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final
from urllib.parse import unquote, urlsplit

from consumer.fields.paths import Getter, compile_path
from consumer.model import Sha256Hex, TikTokUser
from consumer.policy import normalize
from consumer.policy.hashing import IdentifierHasher, device_id_reader
from consumer.policy.normalize import UnusableIdentifierError
from consumer.policy.settings import Identifier, PolicySettings, TtclidSettings, UserSettings

DropHandler = Callable[[str, str], None]
"""Called with (identifier, cause) for each identifier dropped as unusable; cause is a bounded label."""

_MULTI_VALUED: Final = ("email", "phone", "external_id")
_SINGLE_HASHED: Final = ("first_name", "last_name", "zip_code")
_PLAIN: Final[dict[str, normalize.Normaliser]] = {
    "city": normalize.place,
    "state": normalize.place,
    "country": normalize.country,
    "ttp": normalize.plain,
    "ip": normalize.ip,
    "user_agent": normalize.plain,
    "locale": normalize.plain,
    "att_status": normalize.att_status,
}
_DEVICE_IDS: Final = ("idfa", "idfv", "gaid")


class ClickIdReader:
    """The TikTok click id: from its own field, else from the ``ttclid`` query parameter of a landing URL (an order
    often carries only the URL the visitor landed on)."""

    def __init__(self, settings: TtclidSettings) -> None:
        self._field = None if settings.from_ is None else compile_path(settings.from_)
        self._urls = tuple(compile_path(path) for path in settings.from_url)
        self._param = settings.param
        self._marker = f"{settings.param}="

    def read(self, record: Any) -> str | None:
        """The click id of ``record``, ``None`` when it has none. A method, not ``__call__`` (hot path: calling an
        instance goes through its type's slot, a C-level call)."""
        if self._field is not None:
            value = normalize.plain(self._field(record))
            if value is not None:
                return value
        for read in self._urls:
            url = read(record)
            if isinstance(url, str) and self._marker in url:  # cheap test before parsing
                value = self._from_query(url)
                if value is not None:
                    return value
        return None

    def _from_query(self, url: str) -> str | None:
        """The first non-blank value of the parameter, as ``parse_qsl(urlsplit(url).query)`` reads it (hot path:
        without building every pair, and unquoting only what may be the parameter)."""
        for pair in query_of(url).split("&"):
            key, equals, value = pair.partition("=")
            if not equals or not value:  # parse_qsl drops pairs without a value
                continue
            if "%" in key or "+" in key:
                key = unquote(key.replace("+", " "))
            if key == self._param:
                value = unquote(value.replace("+", " ")).strip()
                if value:
                    return value
        return None


def query_of(url: str) -> str:
    """``urlsplit(url).query``. For ASCII text without a tab or line break (urlsplit drops them) or a bracket (urlsplit
    validates an IPv6 host and a non-ASCII one, and may raise), it is the text between the first ``?`` and the first
    ``#``: the scheme and the host hold neither, and urlsplit cuts the fragment first."""
    if not url.isascii() or "[" in url or "]" in url or "\t" in url or "\r" in url or "\n" in url:
        return urlsplit(url).query
    return url.partition("#")[0].partition("?")[2]


class UserPlan:
    """Builds a route's ``TikTokUser`` from a record. Compiled once per route; ``build`` is the hot path.
    ``hash_device_ids``: send idfa, idfv and gaid hashed (the route's setting)."""

    def __init__(
        self,
        settings: UserSettings,
        share: list[Identifier] | None,
        policy: PolicySettings,
        hash_device_ids: bool = False,
    ) -> None:
        def shared(identifier: str) -> bool:
            return share is None or identifier in share

        hasher = IdentifierHasher(policy)
        self._multi = tuple(
            (name, tuple(compile_path(path) for path in getattr(settings, name)), hasher.for_field(name))
            for name in _MULTI_VALUED
            if shared(name) and getattr(settings, name)
        )
        hashed = [(name, hasher.for_field(name)) for name in _SINGLE_HASHED]
        device_id = device_id_reader(normalize.device_id, hash_device_ids)
        devices = [(name, device_id) for name in _DEVICE_IDS]
        self._single: tuple[tuple[str, Getter, Callable[[Any], str | None]], ...] = tuple(
            (name, compile_path(getattr(settings, name)), convert)
            for name, convert in [*hashed, *_PLAIN.items(), *devices]
            if shared(name) and getattr(settings, name) is not None
        )
        if settings.ttclid is not None and shared("ttclid"):
            # The click id reader takes the whole record: it may look at several fields.
            self._single += (("ttclid", _whole_record, ClickIdReader(settings.ttclid).read),)

    def build(self, record: Any, on_drop: DropHandler) -> TikTokUser:
        """The normalised, hashed ``user`` of one record; unusable identifiers are dropped and reported."""
        fields: dict[str, Any] = {}
        for name, readers, hash_value in self._multi:
            digests: list[Sha256Hex] = []
            for read in readers:
                value = read(record)
                if value is None:
                    continue  # hot path: an absent identifier hashes to nothing; skip the call
                for raw in value if isinstance(value, list | tuple) else (value,):
                    try:
                        digest = hash_value(raw)
                    except UnusableIdentifierError as unusable:
                        on_drop(name, unusable.cause)
                        continue
                    if digest is not None and digest not in digests:
                        digests.append(digest)
            if digests:
                fields[name] = tuple(digests)
        for name, read, convert in self._single:
            try:
                value = convert(read(record))
            except UnusableIdentifierError as unusable:
                on_drop(name, unusable.cause)
                continue
            if value is not None:
                fields[name] = value
        return TikTokUser(**fields)


def _whole_record(record: Any) -> Any:
    return record
