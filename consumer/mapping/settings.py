"""Settings of routes and mappings (section ``routes``): which records become which TikTok event, and how.

A route selects records by topic (and, where a topic carries several record types, by schema name and field
values) and names, by field path (``consumer.fields.settings``), where each part of the TikTok event comes from.
The blocks policy reads (``consent``, ``limited_data_use``, ``user``) are in ``consumer.policy.settings``, the
``consent_subject`` block in ``consumer.consent_table.settings``. Every key is checked at start-up and an error
names the route and the key, e.g. ``routes.2: route 'leads-crm': lead.lead_id: Field required``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Annotated, Any, Final, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from consumer.consent_table.settings import ConsentSubjectSettings
from consumer.fields.settings import FieldPath, RouteBlock, Scalar, path_shorthand
from consumer.policy.settings import ConsentSettings, Identifier, LimitedDataUseSettings, PolicySettings, UserSettings

STANDARD_EVENTS: Final = frozenset(
    {
        "AddPaymentInfo",
        "AddToCart",
        "AddToWishlist",
        "ApplicationApproval",
        "ClickButton",
        "CompletePayment",
        "CompleteRegistration",
        "Contact",
        "CustomizeProduct",
        "Download",
        "FindLocation",
        "InitiateCheckout",
        "Lead",
        "PlaceAnOrder",
        "Purchase",
        "Schedule",
        "Search",
        "StartTrial",
        "SubmitApplication",
        "SubmitForm",
        "Subscribe",
        "ViewContent",
    }
)
"""TikTok's standard event names (May 2025, with the legacy names TikTok still accepts); custom names are allowed."""

MOBILE_IDENTIFIERS: Final = ("idfa", "idfv", "gaid", "att_status")
"""The ``user`` fields of app events only: the device's advertising and vendor ids and its ATT status."""


def _number_as_text(value: Any) -> Any:
    """Unquoted YAML ids (an event set id, a numeric store key) arrive as ints: take them as their text."""
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


IdText = Annotated[str, BeforeValidator(_number_as_text), Field(min_length=1)]
"""An id given in the config: text, or an unquoted number taken as its text."""


class ValueSettings(RouteBlock):
    """Where one value comes from: a record field (``from``, or a bare path string) or a constant (``value``);
    ``default`` replaces a null or missing field."""

    from_: FieldPath | None = Field(default=None, alias="from", description="field path in the record")
    value: Scalar | None = Field(default=None, description="a constant instead of a field")
    default: Scalar | None = Field(default=None, description="used when the field is null or missing")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return path_shorthand(data)

    @model_validator(mode="after")
    def _one_source(self) -> ValueSettings:
        if (self.from_ is None) == (self.value is None):
            raise ValueError("give exactly one of 'from' (a field path) or 'value' (a constant)")
        if self.value is not None and self.default is not None:
            raise ValueError("'default' applies to 'from' only")
        return self


class MatchSettings(RouteBlock):
    """Selects records among several types on one topic; every given condition must hold."""

    schema_name: str | None = Field(
        default=None,
        alias="schema",
        min_length=1,
        description="the writer schema's full name (com.example.commerce.OrderPaid), or its name alone",
    )
    fields: dict[FieldPath, list[Scalar]] = Field(
        default_factory=dict, description="field path -> the values it must have, e.g. {stage: [QUALIFIED]}"
    )

    @model_validator(mode="after")
    def _not_empty(self) -> MatchSettings:
        if self.schema_name is None and not self.fields:
            raise ValueError("give 'schema' and/or 'fields', or leave 'match' out to take every record")
        for path, values in self.fields.items():
            if not values:
                raise ValueError(f"fields.{path}: list at least one value")
        return self


class LookupSettings(RouteBlock):
    """An ``event_source_id`` looked up from a record field through a table (e.g. store -> pixel code)."""

    from_: FieldPath = Field(alias="from", description="field path whose value is the table key")
    table: dict[IdText, IdText] = Field(min_length=1, description="key -> id")
    default: IdText | None = Field(default=None, description="id for keys not in the table")


class EventIdSettings(RouteBlock):
    """The ``event_id``: the record's own (the one shared with the browser Pixel) if present, else derived from
    stable record fields (SHA-256 of the event name and their values), never random."""

    from_: FieldPath | None = Field(default=None, alias="from", description="field with the Pixel-shared event id")
    derive_from: list[FieldPath] = Field(
        default_factory=list, description="fields (e.g. order_id) that identify the record when it has no event id"
    )

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return path_shorthand(data)

    @model_validator(mode="after")
    def _some_source(self) -> EventIdSettings:
        if self.from_ is None and not self.derive_from:
            raise ValueError("give 'from' and/or 'derive_from'")
        return self


class EventTimeSettings(RouteBlock):
    """When the event happened: a timestamp (datetime), ISO 8601 text, or a number in ``unit``."""

    from_: FieldPath = Field(alias="from")
    unit: Literal["ms", "s"] = Field(default="ms", description="unit of numeric timestamps")

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return path_shorthand(data)


class PageSettings(RouteBlock):
    url: ValueSettings | None = None
    referrer: ValueSettings | None = None


class ContentsSettings(RouteBlock):
    """``properties.contents`` from an array of line items; the other keys are paths inside one item."""

    from_: FieldPath = Field(alias="from", description="the array of line items")
    content_id: ValueSettings
    content_name: ValueSettings | None = None
    content_category: ValueSettings | None = None
    brand: ValueSettings | None = None
    quantity: ValueSettings | None = None
    price: ValueSettings | None = None


class LeadSettings(RouteBlock):
    lead_id: ValueSettings
    lead_event_source: ValueSettings | None = None


class AppSettings(RouteBlock):
    """``app`` of an app event: the app's store id (App Store id or Android package name), name and version."""

    app_id: ValueSettings
    app_name: ValueSettings | None = None
    app_version: ValueSettings | None = None


class AdSettings(RouteBlock):
    """``ad`` of an app event: the ``callback`` value of the TikTok ad click, as the attribution SDK passed it."""

    callback: ValueSettings


class RouteSettings(RouteBlock):
    """One route: the records it selects and the TikTok event it makes of each."""

    name: str = Field(min_length=1, description="a stable name: a metric label and a dead-letter header")
    topic: str = Field(min_length=1)
    match: MatchSettings | None = Field(default=None, description="omit to take every record of the topic")
    event: str = Field(min_length=1, max_length=100, description="TikTok event name (case-sensitive)")
    event_source: Literal["web", "app", "offline", "crm"] = "web"
    event_source_id: IdText | LookupSettings = Field(
        description="a fixed pixel code / TikTok App ID / event set id, or a lookup {from, table, default}"
    )
    test_event_code: IdText | None = Field(default=None, description="overrides tiktok.test_event_code for this route")
    event_id: EventIdSettings
    event_time: EventTimeSettings
    consent: ConsentSettings
    consent_subject: ConsentSubjectSettings | None = Field(
        default=None, description="checked against the consent table just before each send"
    )
    limited_data_use: LimitedDataUseSettings | None = None
    user: UserSettings = Field(default_factory=UserSettings)
    share: list[Identifier] | None = Field(
        default=None, description="data minimisation: the only user identifiers sent (default: all mapped)"
    )
    page: PageSettings | None = None
    properties: dict[str, ValueSettings] = Field(default_factory=dict)
    properties_from: list[FieldPath] = Field(
        default_factory=list, description="map fields whose entries pass through to properties (mapped keys win)"
    )
    contents: ContentsSettings | None = None
    lead: LeadSettings | None = None
    app: AppSettings | None = Field(default=None, description="app events: the app's store id, name and version")
    ad: AdSettings | None = Field(default=None, description="app events: the ad click's callback")
    hash_device_ids: bool = Field(
        default=False,
        description="app events: send idfa, idfv and gaid SHA-256 hashed instead of normalised (not settled in "
        "public material; a 64-hex value passes through either way)",
    )

    @model_validator(mode="wrap")
    @classmethod
    def _name_the_route(cls, data: Any, handler: ModelWrapValidatorHandler[RouteSettings]) -> RouteSettings:
        """Validate, then check the keys against each other; every error names the route, so that a message
        says which route of the file is wrong."""
        name = repr(data.get("name")) if isinstance(data, dict) else "?"
        try:
            route = handler(data)
        except ValidationError as error:
            raise _route_error(name, [_describe(item) for item in error.errors()]) from None
        try:
            _check_consistency(route)
        except ValueError as error:
            raise _route_error(name, [str(error)]) from None
        return route


class SkipSettings(RouteBlock):
    """Records that are not conversions, such as CRM stage changes no route sends: consumed, counted and committed,
    never sent and never dead-lettered. A skip rule is consulted only for records no route selects, so a record
    that neither a route nor a skip rule takes is still dead-lettered as ``no_route``."""

    name: str = Field(min_length=1, description="a stable name: a metric label")
    topic: str = Field(min_length=1)
    match: MatchSettings | None = Field(default=None, description="omit to skip every unrouted record of the topic")


@dataclass(frozen=True, slots=True)
class TranslatorSettings:
    """What ``Translator`` is built from, gathered by the config from its sections: the routes and skip rules, the
    ``policy`` section, ``tiktok.test_event_code`` (the default of every route) and the consent table's purposes
    (``None`` while the table is off)."""

    routes: Sequence[RouteSettings]
    skip: Sequence[SkipSettings] = ()
    policy: PolicySettings = field(default_factory=PolicySettings)
    test_event_code: str | None = None
    consent_purposes: Sequence[str] | None = None


def _describe(item: ErrorDetails) -> str:
    key = ".".join(str(part) for part in item["loc"]) or "<route>"
    return f"{key}: {item['msg'].removeprefix('Value error, ')}"


def _route_error(name: str, details: list[str]) -> PydanticCustomError:
    return PydanticCustomError("route", "route {route}: {details}", {"route": name, "details": "; ".join(details)})


def _check_consistency(route: RouteSettings) -> None:
    _check_event_name(route.event)
    if route.event_source == "crm" and route.lead is None:
        raise ValueError("lead.lead_id: crm events need a lead id (map 'lead: {lead_id: <path>}')")
    if "contents" in route.properties:
        raise ValueError("properties.contents: map line items with the route's 'contents' key")
    if route.limited_data_use is not None and route.event_source not in ("web", "app"):
        raise ValueError("limited_data_use: applies to web and app events only")
    _check_app_keys(route)
    _check_identities_stay_in_user(route)


def _check_app_keys(route: RouteSettings) -> None:
    """App events need an app id; the app context, the ad callback and the device ids exist on app events only."""
    if route.event_source == "app":
        if route.app is None:
            raise ValueError("app.app_id: app events need an app id (map 'app: {app_id: <path>}')")
        return
    for key in ("app", "ad"):
        if getattr(route, key) is not None:
            raise ValueError(f"{key}: applies to app events only")
    for name in MOBILE_IDENTIFIERS:
        if getattr(route.user, name) is not None:
            raise ValueError(f"user.{name}: applies to app events only")


def _source(spec: ValueSettings | None) -> str | None:
    return None if spec is None else spec.from_


def _outputs_outside_user(route: RouteSettings) -> list[tuple[str, str]]:
    """(key, field path) of every record field the route copies into the event outside ``user``, unhashed."""
    outputs = [(f"properties.{key}", spec.from_) for key, spec in route.properties.items()]
    outputs += [(f"properties_from.{index}", path) for index, path in enumerate(route.properties_from)]
    outputs += [("event_id.from", route.event_id.from_)]
    if route.page is not None:
        outputs += [("page.url", _source(route.page.url)), ("page.referrer", _source(route.page.referrer))]
    if route.lead is not None:
        outputs += [("lead.lead_id", route.lead.lead_id.from_)]
        outputs += [("lead.lead_event_source", _source(route.lead.lead_event_source))]
    if route.app is not None:
        outputs += [(f"app.{key}", _source(getattr(route.app, key))) for key in ("app_id", "app_name", "app_version")]
    if route.ad is not None:
        outputs += [("ad.callback", route.ad.callback.from_)]
    return [(key, path) for key, path in outputs if path]


def _check_identities_stay_in_user(route: RouteSettings) -> None:
    """A field mapped to user.email or user.phone (or a record holding it) may not also be copied anywhere else:
    raw email and phone leave only hashed, by construction of the route."""
    identities = [(f"user.{name}", path) for name in ("email", "phone") for path in getattr(route.user, name)]
    for key, path in _outputs_outside_user(route):
        for identity, identity_path in identities:
            if identity_path == path or identity_path.startswith(f"{path}."):
                raise ValueError(
                    f"{key}: field {path!r} holds {identity} ({identity_path!r}), which may only be sent hashed"
                )


def _check_event_name(event: str) -> None:
    for standard in STANDARD_EVENTS:
        if event != standard and event.lower() == standard.lower():
            raise ValueError(
                f"event: {event!r} differs from TikTok's {standard!r} only in case; names are case-sensitive"
            )


def _covers(earlier: MatchSettings | None, later: MatchSettings | None) -> bool:
    """Whether every record ``later`` selects is already taken by ``earlier``."""
    if earlier is None:
        return True
    if later is None:
        return False
    if earlier.schema_name is not None and earlier.schema_name != later.schema_name:
        return False
    return all(
        path in later.fields and {str(v) for v in later.fields[path]} <= {str(v) for v in values}
        for path, values in earlier.fields.items()
    )


def check_route_table(routes: list[RouteSettings]) -> list[RouteSettings]:
    """Cross-route checks: names are unique and no route is shadowed by an earlier one on the same topic (routes
    are tried in order, the first match wins)."""
    seen: dict[str, RouteSettings] = {}
    for index, route in enumerate(routes):
        if route.name in seen:
            raise ValueError(f"route name {route.name!r} is used twice (routes.{index})")
        for earlier in seen.values():
            if earlier.topic == route.topic and _covers(earlier.match, route.match):
                raise ValueError(
                    f"route {route.name!r} (routes.{index}) can never be selected: route {earlier.name!r} before it "
                    f"takes every record it would (narrow {earlier.name!r}'s match or reorder)"
                )
        seen[route.name] = route
    return routes
