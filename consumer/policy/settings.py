"""Settings of the policy stage (section ``policy``): consent default, event age window, normalisation."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

import phonenumbers
from pydantic import BaseModel, ConfigDict, Field, field_validator


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
