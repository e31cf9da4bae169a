"""Settings of the policy stage (section ``policy``): consent default, event age window, normalisation."""

from __future__ import annotations

from datetime import timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict


class PolicySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unknown_consent: Literal["deny", "grant"] = "deny"
    max_event_age: timedelta = timedelta(days=7)
    max_future_skew: timedelta = timedelta(minutes=10)
    phone_default_region: str | None = None
    external_id_lowercase: bool = False
