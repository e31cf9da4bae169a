"""Settings of the policy stage: the section ``policy`` (consent default, event age window, normalisation), and
the blocks of a route that policy reads (``consent``, ``limited_data_use``, ``user``, ``share``)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any, Final, Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from consumer.fields.settings import FieldPath, RouteBlock, Scalar, as_list, path_shorthand


class PolicySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unknown_consent: Literal["deny", "grant"] = Field(
        default="deny",
        description="what an event whose consent fields are null, missing or unrecognised gets: withheld (deny) or "
        "sent (grant); a denied field always withholds",
    )
    max_event_age: timedelta = Field(
        default=timedelta(days=7),
        gt=timedelta(0),
        description="events older than this are rejected as event_too_old (ISO 8601 duration or seconds)",
    )
    max_future_skew: timedelta = Field(
        default=timedelta(minutes=10),
        ge=timedelta(0),
        description="events further ahead of the clock than this are rejected as event_in_future",
    )
    phone_default_region: str | None = Field(
        default=None,
        description="ISO 3166-1 alpha-2 region used to read national phone numbers (no +country code), e.g. US; "
        "without it such numbers are dropped and counted",
    )
    external_id_lowercase: bool = Field(
        default=False,
        description="lowercase external_id before hashing; must match what the Pixel side hashes",
    )

    @field_validator("phone_default_region")
    @classmethod
    def _known_region(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in phonenumbers.SUPPORTED_REGIONS:
            raise ValueError(f"{value!r} is not a region phonenumbers knows (ISO 3166-1 alpha-2, e.g. US, GB, DE)")
        return None if value is None else value.upper()


Identifier = Literal[
    "email",
    "phone",
    "external_id",
    "first_name",
    "last_name",
    "zip_code",
    "city",
    "state",
    "country",
    "ttclid",
    "ttp",
    "ip",
    "user_agent",
    "locale",
    "idfa",
    "idfv",
    "gaid",
    "att_status",
]
"""The fields of TikTok's ``user`` object, as a route maps them and as ``share`` lists them."""

DEFAULT_GRANTED: Final = ("GRANTED", "TRUE", "YES", "Y", "1", "OPT_IN", "OPTED_IN")
DEFAULT_DENIED: Final = ("DENIED", "FALSE", "NO", "N", "0", "OPT_OUT", "OPTED_OUT")


class ConsentSettings(RouteBlock):
    """The record's consent fields. The event is sent only when every field is granted; one denied field withholds
    it; otherwise (null, missing, another value) ``policy.unknown_consent`` decides. Values compare as
    upper-case text, so ``GRANTED``, ``granted`` and ``true`` are all granted by default."""

    fields: list[FieldPath] = Field(min_length=1, description="consent fields that must all be granted")
    granted: list[Scalar] = Field(default=list(DEFAULT_GRANTED), min_length=1)
    denied: list[Scalar] = Field(default=list(DEFAULT_DENIED), min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return {"fields": as_list(data)} if isinstance(data, str | list) else data

    @model_validator(mode="after")
    def _disjoint(self) -> ConsentSettings:
        overlap = {str(v).upper() for v in self.granted} & {str(v).upper() for v in self.denied}
        if overlap:
            raise ValueError(f"values both granted and denied: {sorted(overlap)}")
        return self


class LimitedDataUseSettings(RouteBlock):
    """``limited_data_use`` (web and app events): the record's flag if set, else ``default``; forced true when any
    ``when_any`` field has one of its listed values (a rule, e.g. customer.region in [CA])."""

    from_: FieldPath | None = Field(default=None, alias="from", description="boolean field of the record")
    default: bool = False
    when_any: dict[FieldPath, list[Scalar]] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return path_shorthand(data)


class TtclidSettings(RouteBlock):
    """The TikTok click id: a field, else the ``param`` query parameter of the first landing URL field that has it."""

    from_: FieldPath | None = Field(default=None, alias="from")
    from_url: list[FieldPath] = Field(default_factory=list, description="URL fields to read ?ttclid= from")
    param: str = Field(default="ttclid", min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("from_url"), str):
            return {**data, "from_url": [data["from_url"]]}
        return path_shorthand(data)

    @model_validator(mode="after")
    def _some_source(self) -> TtclidSettings:
        if self.from_ is None and not self.from_url:
            raise ValueError("give 'from' and/or 'from_url'")
        return self


class UserSettings(RouteBlock):
    """Field paths of TikTok's ``user`` object. email, phone and external_id take one path or a list (a field may
    itself hold a list); all are normalised, and email, phone, external_id, names and zip are SHA-256 hashed. The
    mobile identifiers (app events only) are hashed when the route sets ``hash_device_ids``."""

    email: list[FieldPath] = Field(default_factory=list)
    phone: list[FieldPath] = Field(default_factory=list)
    external_id: list[FieldPath] = Field(default_factory=list)
    first_name: FieldPath | None = None
    last_name: FieldPath | None = None
    zip_code: FieldPath | None = None
    city: FieldPath | None = None
    state: FieldPath | None = None
    country: FieldPath | None = None
    ttclid: TtclidSettings | None = None
    ttp: FieldPath | None = None
    ip: FieldPath | None = None
    user_agent: FieldPath | None = None
    locale: FieldPath | None = None
    idfa: FieldPath | None = None
    idfv: FieldPath | None = None
    gaid: FieldPath | None = None
    att_status: FieldPath | None = None

    @model_validator(mode="before")
    @classmethod
    def _single_paths(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        return {
            key: as_list(value) if key in {"email", "phone", "external_id"} else value for key, value in data.items()
        }
