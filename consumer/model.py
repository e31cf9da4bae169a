"""The types that cross stage boundaries, and nothing else.

Bookkeeping travels beside the payload, never inside it: a ``SourceRef`` rides next to each ``TikTokEvent`` so the
sender never learns about Kafka and the intake never learns about HTTP. Every source message ends in exactly one
way (``Settled``): delivered, dead-lettered, consent-dropped or skipped (a skip rule's record); only settlement turns
that into stored offsets.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar, Literal, NamedTuple, Self

_SHA256_HEX = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, slots=True)
class SourceRef:
    """Where a message came from; the unit of settlement."""

    topic: str
    partition: int
    offset: int


Header = tuple[str, bytes | None]


@dataclass(frozen=True, slots=True)
class SourceMessage:
    """A Kafka message as consumed, byte-for-byte: what a dead-letter record preserves."""

    ref: SourceRef
    key: bytes | None
    value: bytes | None
    headers: tuple[Header, ...] = ()
    timestamp_ms: int | None = None


class DomainRecord(NamedTuple):
    """A decoded domain event: the writer schema's full name and plain Python values (dicts, lists, str, int,
    float, bool, None, ``decimal.Decimal`` and ``datetime``). From a decoder given the paths its routes read, the
    logical values no route reads stay raw (decimals as bytes, timestamps as ints)."""

    schema_name: str
    value: Mapping[str, Any]
    schema_id: int | None = None


class EventSource(StrEnum):
    WEB = "web"
    APP = "app"
    OFFLINE = "offline"
    CRM = "crm"


@dataclass(frozen=True, slots=True)
class Destination:
    """One TikTok batch key: events with different destinations never share a request."""

    event_source: EventSource
    event_source_id: str
    test_event_code: str | None = None


class Sha256Hex(str):
    """A lowercase SHA-256 hex digest. Identity fields of ``TikTokUser`` accept only this type, so raw email or phone
    cannot be represented in an outbound event; ``consumer.policy.hashing`` is the only producer of instances."""

    __slots__ = ()

    def __new__(cls, digest: str) -> Sha256Hex:
        if not _SHA256_HEX.fullmatch(digest):
            raise ValueError("not a lowercase 64-character SHA-256 hex digest")
        return super().__new__(cls, digest)

    @classmethod
    def _of_hashlib_hexdigest(cls, digest: str) -> Sha256Hex:
        """Trusted constructor for ``consumer.policy.hashing`` only, and only for the ``hexdigest()`` of a
        ``hashlib.sha256`` it has just computed: that is a lowercase 64-character hex digest by construction, so the
        pattern check of ``__new__`` is skipped (hot path). Every other value must go through ``Sha256Hex(...)``."""
        return str.__new__(cls, digest)


_TUPLE_TYPES: frozenset[type] = frozenset({tuple})
_HASHED_TYPES: frozenset[type] = frozenset({Sha256Hex, type(None)})


def _require_hashed(name: str, values: tuple[Sha256Hex, ...] | Sha256Hex | None) -> None:
    items = values if isinstance(values, tuple) else (values,)
    for item in items:
        if item is not None and type(item) is not Sha256Hex:
            raise TypeError(f"TikTokUser.{name} accepts only Sha256Hex values")


# The value types built once or more per event (TikTokUser, TikTokEvent, OutboundEvent, DomainRecord, Delivered) are
# NamedTuples, immutable like the frozen dataclasses they replace: a frozen dataclass's __init__ sets each field with
# object.__setattr__, which made TikTokUser(**fields) cost 5x a NamedTuple of the same fields (hot path). Change one
# with ``_replace``, not ``dataclasses.replace``.


class _TikTokUserFields(NamedTuple):
    email: tuple[Sha256Hex, ...]
    phone: tuple[Sha256Hex, ...]
    external_id: tuple[Sha256Hex, ...]
    first_name: Sha256Hex | None
    last_name: Sha256Hex | None
    zip_code: Sha256Hex | None
    city: str | None
    state: str | None
    country: str | None
    ttclid: str | None
    ttp: str | None
    ip: str | None
    user_agent: str | None
    locale: str | None
    idfa: str | None
    idfv: str | None
    gaid: str | None
    att_status: str | None


class TikTokUser(_TikTokUserFields):
    """The ``user`` object of a TikTok event. Hashed fields are typed ``Sha256Hex`` and checked at construction.
    The mobile identifiers (``idfa``, ``idfv``, ``gaid``: app events) are normalised device ids, or their digests
    when the route hashes them; ``att_status`` is TikTok's name of the iOS App Tracking Transparency status."""

    __slots__ = ()

    HASHED: ClassVar[tuple[str, ...]] = ("email", "phone", "external_id", "first_name", "last_name", "zip_code")

    def __new__(  # noqa: PLR0917 - a NamedTuple's fields are positional too (pickle passes them so)
        cls,
        email: tuple[Sha256Hex, ...] = (),
        phone: tuple[Sha256Hex, ...] = (),
        external_id: tuple[Sha256Hex, ...] = (),
        first_name: Sha256Hex | None = None,
        last_name: Sha256Hex | None = None,
        zip_code: Sha256Hex | None = None,
        city: str | None = None,
        state: str | None = None,
        country: str | None = None,
        ttclid: str | None = None,
        ttp: str | None = None,
        ip: str | None = None,
        user_agent: str | None = None,
        locale: str | None = None,
        idfa: str | None = None,
        idfv: str | None = None,
        gaid: str | None = None,
        att_status: str | None = None,
    ) -> TikTokUser:
        # hot path (one user per event): one scan of the hashed values; the per-field check runs only on a failure,
        # to name the field
        multi = (email, phone, external_id)
        single = (first_name, last_name, zip_code)
        if not (
            _TUPLE_TYPES.issuperset(map(type, multi))
            and _HASHED_TYPES.issuperset(map(type, single))
            and _HASHED_TYPES.issuperset(map(type, email + phone + external_id))
        ):
            for name, value in zip(cls.HASHED, (*multi, *single), strict=True):
                _require_hashed(name, value)
        return tuple.__new__(
            cls,
            (
                email, phone, external_id, first_name, last_name, zip_code, city, state, country,
                ttclid, ttp, ip, user_agent, locale, idfa, idfv, gaid, att_status,
            ),
        )  # fmt: skip

    @classmethod
    def _make(cls, iterable: Iterable[Any]) -> Self:  # type: ignore[override]  # mypy's NamedTuple._make is generic
        # ``_replace`` builds through ``_make``, which would skip ``__new__`` and its check (pickle and copy call
        # ``__new__``)
        return cls(*iterable)

    def to_json(self) -> dict[str, Any]:
        """TikTok's shape: multi-valued identifiers as a string when single, an array when several; empty omitted."""
        # hot path (one user per event): the tuple fields come first, so no per-field type test
        out: dict[str, Any] = {}
        for name, value in zip(_MULTI_FIELDS, self[:_MULTI], strict=True):
            if value:
                out[name] = str(value[0]) if len(value) == 1 else [str(v) for v in value]
        for name, value in zip(_SINGLE_FIELDS, self[_MULTI:], strict=True):
            if value is not None:
                out[name] = str(value)
        return out


_MULTI = 3  # email, phone, external_id: TikTokUser's tuple fields
_MULTI_FIELDS, _SINGLE_FIELDS = TikTokUser._fields[:_MULTI], TikTokUser._fields[_MULTI:]


_NO_USER = TikTokUser()
_NO_PROPERTIES: Mapping[str, Any] = MappingProxyType({})  # a shared default must not be mutable


class TikTokEvent(NamedTuple):
    """One element of the request's ``data`` array, normalised and hashed; only policy builds these."""

    event: str
    event_time: int
    event_id: str
    user: TikTokUser = _NO_USER
    properties: Mapping[str, Any] = _NO_PROPERTIES
    page: Mapping[str, str] | None = None
    lead: Mapping[str, str] | None = None
    app: Mapping[str, str] | None = None
    ad: Mapping[str, str] | None = None
    limited_data_use: bool | None = None

    def to_json(self) -> dict[str, Any]:
        # hot path (one per event): one unpacking reads every field (a NamedTuple attribute read is not cheap)
        event, event_time, event_id, user, properties, page, lead, app, ad, limited_data_use = self
        out: dict[str, Any] = {"event": event, "event_time": event_time, "event_id": event_id, "user": user.to_json()}
        if properties:
            out["properties"] = dict(properties)
        if page:
            out["page"] = dict(page)
        if lead:
            out["lead"] = dict(lead)
        if app:
            out["app"] = dict(app)
        if ad:
            out["ad"] = dict(ad)
        if limited_data_use is not None:
            out["limited_data_use"] = limited_data_use
        return out


EventIdOrigin = Literal["record", "derived"]


@dataclass(frozen=True, slots=True)
class ConsentSubject:
    """Who an event is about, as the consent table keys it, and what the event needs from the table: checked just
    before each send (``consumer.consent_table``). No PII: ``digest`` is a 16-byte digest of the subject id."""

    digest: bytes
    purposes: int  # bit mask of the purposes the route's events need
    event_ms: int  # the event's time: a denial decided later is a withdrawal after the event


class OutboundEvent(NamedTuple):
    """A mapped, consent-approved, hashed event with its bookkeeping beside it."""

    ref: SourceRef
    route: str
    destination: Destination
    event: TikTokEvent
    event_id_origin: EventIdOrigin
    subject: ConsentSubject | None = None


@dataclass(frozen=True, slots=True)
class ConsentWithheld:
    """An event withheld for lack of consent. This is the audit record, so it carries no PII."""

    ref: SourceRef
    route: str
    event: str
    event_id: str
    reason: str
    decided_at_ms: int


class Stage(StrEnum):
    """Pipeline stage names, as written to ``__connect.errors.stage``."""

    DECODE = "decode"
    MAP = "map"
    POLICY = "policy"
    SEND = "send"


class PermanentError(Exception):
    """Base of every error that dead-letters a message. ``reason`` is a stable category (a metric label and a
    dead-letter header); the message must never contain PII or secrets."""

    stage: ClassVar[Stage]
    reason: ClassVar[str]


class TransientError(Exception):
    """Base of failures that are retried, never dead-lettered (a registry or broker outage)."""


class ResourcePendingError(TransientError):
    """A transient failure that ends on its own (a schema being fetched off the event loop): the message waits until
    ``ready`` is done, then is tried again at once; not an outage, so no backoff."""

    def __init__(self, message: str, ready: asyncio.Future[Any]) -> None:
        super().__init__(message)
        self.ready = ready


@dataclass(frozen=True, slots=True)
class Failure:
    """Why a message could not be delivered, with what the dead-letter headers report."""

    stage: Stage
    reason: str
    exception_class: str
    message: str
    attempts: int = 1
    first_failure_ms: int | None = None
    last_failure_ms: int | None = None
    http_status: int | None = None
    tiktok_code: int | None = None
    tiktok_message: str | None = None
    request_id: str | None = None
    route: str | None = None

    @classmethod
    def from_error(cls, error: PermanentError, now_ms: int, route: str | None = None) -> Failure:
        return cls(
            stage=error.stage,
            reason=error.reason,
            exception_class=type(error).__name__,
            message=str(error),
            first_failure_ms=now_ms,
            last_failure_ms=now_ms,
            route=route,
        )


class Delivered(NamedTuple):
    """TikTok accepted the event (code 0 or 20001)."""

    ref: SourceRef
    tiktok_code: int = 0
    request_id: str | None = None


@dataclass(frozen=True, slots=True)
class WithheldAtSend:
    """The sender found, just before a send, that the consent table withholds the event (a withdrawal after the
    event): it was not sent; the caller audits it and settles the message as consent-dropped."""

    ref: SourceRef
    reason: str


@dataclass(frozen=True, slots=True)
class DeadLettered:
    """The message goes to the dead-letter topic with its original bytes."""

    ref: SourceRef
    failure: Failure


@dataclass(frozen=True, slots=True)
class Skipped:
    """A record a configured skip rule declares not to be a conversion (e.g. a CRM stage no route sends): settled
    at once, counted, neither sent nor dead-lettered."""

    ref: SourceRef
    rule: str


class Settled(StrEnum):
    """How a source message ended once its outcome is durable; only then may settlement store its offset."""

    DELIVERED = "delivered"
    DEAD_LETTERED = "dead_lettered"
    CONSENT_DROPPED = "consent_dropped"  # its audit record acknowledged
    SKIPPED = "skipped"
