"""Settings of the TikTok sender (section ``tiktok``). Access tokens come from the environment only."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

TIKTOK_TRACK_URL = "https://business-api.tiktok.com/open_api/v1.3/event/track/"


class TikTokSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str = TIKTOK_TRACK_URL
    test_event_code: str | None = None
    partner_name: str | None = None
    max_batch_events: int = Field(default=1000, ge=1, le=1000)
    max_batch_bytes: int = Field(default=2_000_000, ge=10_000)
    linger_ms: int = Field(default=200, ge=0)
    max_in_flight: int = Field(default=16, ge=1)
    max_requests_per_second: float = Field(default=500.0, gt=0, le=1000)
    request_timeout_s: float = Field(default=15.0, gt=0)
