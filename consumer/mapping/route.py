"""One route compiled for the hot path: the records it selects and the TikTok event it makes of each.

Everything that depends only on the config (field paths, lookup tables, destinations, hash functions, consent
values) is resolved here once; ``translate`` only reads the record and builds the event.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from consumer.consent_table.entry import PurposeBits
from consumer.consent_table.subject import SubjectReader
from consumer.errors import MappingError, TranslationError
from consumer.fields.paths import compile_path
from consumer.fields.values import timestamp_ms, to_id
from consumer.mapping.errors import NoDestinationError
from consumer.mapping.properties import AppPlan, LeadPlan, PagePlan, PropertiesPlan
from consumer.mapping.settings import EventIdSettings, LookupSettings, MatchSettings, RouteSettings
from consumer.model import (
    ConsentWithheld,
    Destination,
    DomainRecord,
    EventIdOrigin,
    EventSource,
    OutboundEvent,
    SourceRef,
    TikTokEvent,
)
from consumer.policy.consent import ConsentGate, LimitedDataUseRule
from consumer.policy.hashing import derive_event_id
from consumer.policy.identifiers import DropHandler, UserPlan
from consumer.policy.settings import PolicySettings
from consumer.policy.window import EventWindow

Selector = Callable[[DomainRecord], bool]


def compile_match(match: MatchSettings | None) -> Selector:
    """Whether a record of the route's topic is the route's: schema name (full, or the name alone when the config
    gives no namespace) and field values, compared as text."""
    if match is None:
        return lambda _record: True
    schema = match.schema_name
    by_full_name = schema is not None and "." in schema
    fields = tuple(
        (compile_path(path), frozenset(str(value) for value in values)) for path, values in match.fields.items()
    )

    def selects(record: DomainRecord) -> bool:
        if schema is not None:
            name = record.schema_name if by_full_name else record.schema_name.rpartition(".")[2]
            if name != schema:
                return False
        for read, values in fields:
            value = read(record.value)
            if value is None or str(value) not in values:
                return False
        return True

    return selects


class EventIdReader:
    """The record's own event id (shared with the Pixel), else one derived from stable fields, never random."""

    def __init__(self, settings: EventIdSettings, event: str) -> None:
        self._field = settings.from_
        self._read = None if settings.from_ is None else compile_path(settings.from_)
        self._derive = tuple((path, compile_path(path)) for path in settings.derive_from)
        self._event = event

    def read(self, record: Any) -> tuple[str, EventIdOrigin]:
        """The event id of ``record`` and where it came from."""
        if self._read is not None:
            raw = self._read(record)
            if raw is not None:
                try:
                    event_id = to_id(raw).strip()
                except ValueError as error:
                    raise MappingError(f"event_id: field {self._field!r}: {error}") from None
                if event_id:
                    return event_id, "record"
        if not self._derive:
            raise MappingError(f"event_id: field {self._field!r} is empty and the route has no derive_from")
        parts = []
        for path, read in self._derive:
            value = read(record)
            if value is None or value == "":
                raise MappingError(f"event_id: derive_from field {path!r} is null or missing")
            parts.append(value)
        return derive_event_id(self._event, parts), "derived"


class DestinationResolver:
    """The route's ``Destination``: fixed, or looked up from a record field through a table. All destinations are
    built at start-up; the lookup is one dict access."""

    def __init__(self, route: RouteSettings, test_event_code: str | None) -> None:
        source = EventSource(route.event_source)
        code = route.test_event_code or test_event_code
        setting = route.event_source_id
        if isinstance(setting, LookupSettings):
            self._fixed = None
            self._key = compile_path(setting.from_)
            self._path = setting.from_
            self._table = {key: Destination(source, value, code) for key, value in setting.table.items()}
            self._default = None if setting.default is None else Destination(source, setting.default, code)
        else:
            self._fixed = Destination(source, setting, code)

    def resolve(self, record: Any) -> Destination:
        """The destination of ``record``; ``NoDestinationError`` when the table has none for it."""
        if self._fixed is not None:
            return self._fixed
        key = self._key(record)
        destination = self._table.get(str(key)) if key is not None else None
        if destination is None:
            destination = self._default
        if destination is None:
            raise NoDestinationError(
                f"event_source_id: the lookup table has no entry for field {self._path!r} and no default"
            )
        return destination


class CompiledRoute:
    """A route ready for the hot path. Its parts are called by method (``read``, ``resolve``, ``applies``), not as
    callable instances: calling an instance goes through its type's ``__call__`` slot, a C-level call several times
    as dear as a method call (hot path: several per event)."""

    def __init__(
        self,
        route: RouteSettings,
        policy: PolicySettings,
        test_event_code: str | None,
        consent_purposes: PurposeBits | None = None,
    ) -> None:
        self.name = route.name
        self.topic = route.topic
        self.event = route.event
        self.selects = compile_match(route.match)
        self._event_id = EventIdReader(route.event_id, route.event)
        self._time_field = route.event_time.from_
        self._time = compile_path(route.event_time.from_)
        self._time_unit = route.event_time.unit
        self._window = EventWindow(policy)
        self._consent = ConsentGate(route.consent, policy.unknown_consent)
        self._subject = (
            None
            if route.consent_subject is None or consent_purposes is None
            else SubjectReader(route.consent_subject, consent_purposes)
        )
        self._destination = DestinationResolver(route, test_event_code)
        self._user = UserPlan(route.user, route.share, policy, route.hash_device_ids)
        self._properties = PropertiesPlan(route)
        self._page = None if route.page is None else PagePlan(route.page)
        self._lead = None if route.lead is None else LeadPlan(route.lead, required=route.event_source == "crm")
        self._limited_data_use = None if route.limited_data_use is None else LimitedDataUseRule(route.limited_data_use)
        self._app = None if route.app is None else AppPlan(route.app, route.ad)

    def translate(
        self, record: DomainRecord, ref: SourceRef, now_ms: int, on_drop: DropHandler
    ) -> OutboundEvent | ConsentWithheld:
        """Map one selected record; consent is decided before anything else is read past the event id."""
        try:
            return self._translate(record.value, ref, now_ms, on_drop)
        except TranslationError as error:
            error.route = self.name
            raise

    def _translate(
        self, value: Any, ref: SourceRef, now_ms: int, on_drop: DropHandler
    ) -> OutboundEvent | ConsentWithheld:
        event_id, origin = self._event_id.read(value)
        reason = self._consent.withheld_reason(value)
        if reason is not None:
            return ConsentWithheld(ref, self.name, self.event, event_id, reason, now_ms)
        event_ms = self._event_time_ms(value)
        self._window.check(event_ms, now_ms)
        destination = self._destination.resolve(value)
        app, ad = (None, None) if self._app is None else self._app.build(value, on_drop)
        event = TikTokEvent(
            event=self.event,
            event_time=event_ms // 1000,
            event_id=event_id,
            user=self._user.build(value, on_drop),
            properties=self._properties.build(value, on_drop),
            page=None if self._page is None else self._page.build(value, on_drop),
            lead=None if self._lead is None else self._lead.build(value, on_drop),
            app=app,
            ad=ad,
            limited_data_use=None if self._limited_data_use is None else self._limited_data_use.applies(value),
        )
        subject = None if self._subject is None else self._subject(value, event_ms)
        return OutboundEvent(ref, self.name, destination, event, origin, subject)

    def _event_time_ms(self, value: Any) -> int:
        raw = self._time(value)
        if raw is None:
            raise MappingError(f"event_time: field {self._time_field!r} is null or missing")
        try:
            return timestamp_ms(raw, self._time_unit)
        except ValueError as error:
            raise MappingError(f"event_time: field {self._time_field!r}: {error}") from None
