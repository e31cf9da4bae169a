"""Settings of the TikTok sender (section ``tiktok``). Access tokens come from the environment only
(``consumer.sending.tokens``), never from this section."""

from __future__ import annotations

from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

TIKTOK_TRACK_URL = "https://business-api.tiktok.com/open_api/v1.3/event/track/"
TIKTOK_HOST = "business-api.tiktok.com"


class TikTokSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    endpoint: str = Field(default=TIKTOK_TRACK_URL, description="the Events API track URL (trailing slash matters)")
    allow_custom_endpoint: bool = Field(
        default=False,
        description="allow an endpoint other than HTTPS on business-api.tiktok.com (the sandbox, loopback tests, a "
        "vetted gateway): the access token goes wherever the endpoint points",
    )
    test_event_code: str | None = Field(
        default=None, description="sent top level on every request whose destination sets none (Test Events view)"
    )
    partner_name: str | None = Field(default=None, description="sent top level on every request when set")

    # Batching.
    max_batch_events: int = Field(default=1000, ge=1, le=1000, description="events per request (TikTok: 1000)")
    max_batch_bytes: int = Field(default=2_000_000, ge=10_000, description="request body size cap in bytes")
    linger_ms: int = Field(default=200, ge=0, description="how long a batch may wait for more events")

    # Connections and limits.
    max_in_flight: int = Field(default=16, ge=1, description="requests in flight, and the connection pool size")
    max_requests_per_second: float = Field(
        default=500.0, gt=0, le=1000, description="global request-rate cap (TikTok allows 1000/s per app)"
    )
    rate_burst: int = Field(default=20, ge=1, description="requests the rate limiter lets through back to back")
    request_timeout_s: float = Field(default=15.0, gt=0, description="whole-request timeout")
    connect_timeout_s: float = Field(default=5.0, gt=0, description="connection (and TLS handshake) timeout")
    keepalive_s: float = Field(default=30.0, gt=0, description="how long an idle keep-alive connection is kept")

    # Retries of transient failures (timeouts, connection errors, HTTP 5xx, 40100, 40132/40133, 5xxxx codes).
    retry_base_ms: float = Field(default=200.0, gt=0, description="backoff of the first retry before jitter")
    retry_max_backoff_s: float = Field(default=30.0, gt=0, description="backoff cap before jitter")
    throttle_backoff_factor: float = Field(
        default=4.0, ge=1, description="backoff multiplier after a per-pixel/advertiser QPS limit (40132, 40133)"
    )
    retry_max_attempts: int | None = Field(
        default=None, ge=1, description="transient failures of a batch before its events fail; null: no limit"
    )
    retry_max_elapsed_s: float | None = Field(
        default=3600.0, gt=0, description="time since a batch's first transient failure before its events fail"
    )

    # Configuration faults (40001, 40063, 40102, 40104, 40105, HTTP 401/403/404, missing token): held.
    auth_fault_retry_s: float = Field(default=30.0, gt=0, description="interval between retries while holding")
    auth_fault_log_interval_s: float = Field(default=60.0, gt=0, description="one warning per interval at most")
    # One destination's fault must not hold every partition (consumer.sending.destinations).
    destination_fault: Literal["dead_letter", "hold"] = Field(
        default="dead_letter",
        description="a destination refused for destination_fault_after_s while others are delivered: dead-letter "
        "its events (reason destination_auth_failed, replayable) or hold them for ever",
    )
    destination_fault_after_s: float = Field(
        default=900.0, gt=0, description="how long one destination is held before its events are dead-lettered"
    )
    destination_healthy_window_s: float = Field(
        default=120.0,
        gt=0,
        description="another destination delivered within this window makes a fault one destination's alone; "
        "otherwise it is global and held",
    )

    close_timeout_s: float = Field(
        default=10.0, ge=0, description="on close, how long to wait for requests in flight before cancelling them"
    )

    # Egress: a forward proxy and the CA that verifies the endpoint (a TLS-inspecting proxy re-signs it).
    proxy: str | None = Field(
        default=None,
        description="forward proxy for every request to TikTok, http://host:port (HTTPS goes through it by CONNECT); "
        "wins over HTTPS_PROXY/HTTP_PROXY; credentials never in the URL: set proxy_username_env/proxy_password_env",
    )
    proxy_username_env: str | None = Field(
        default=None, min_length=1, description="name of the environment variable holding the proxy user name"
    )
    proxy_password_env: str | None = Field(
        default=None, min_length=1, description="name of the environment variable holding the proxy password"
    )
    trust_env: bool = Field(
        default=True,
        description="without `proxy`, honour the standard HTTPS_PROXY, HTTP_PROXY and NO_PROXY variables",
    )
    ca_location: Path | None = Field(
        default=None, description="CA bundle (PEM) that verifies the endpoint's certificate; default: the system's"
    )

    @field_validator("proxy")
    @classmethod
    def _proxy_url_without_credentials(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be http://host:port or https://host:port")
        if parts.username or parts.password:
            raise ValueError("credentials do not belong in the URL: set proxy_username_env and proxy_password_env")
        return value

    @model_validator(mode="after")
    def _proxy_credentials_in_pairs(self) -> Self:
        if (self.proxy_username_env is None) != (self.proxy_password_env is None):
            raise ValueError("set both proxy_username_env and proxy_password_env, or neither")
        if self.proxy_username_env is not None and self.proxy is None:
            raise ValueError("proxy_username_env needs proxy")
        return self

    @model_validator(mode="after")
    def _token_goes_to_tiktok_only(self) -> Self:
        """Defence in depth for the token: a typo, an injected environment variable or a copied staging config
        must not send it in clear or to another host."""
        if self.allow_custom_endpoint:
            return self
        parts = urlsplit(self.endpoint)
        if parts.scheme != "https" or parts.hostname != TIKTOK_HOST or "@" in parts.netloc:
            raise ValueError(
                f"endpoint must be https://{TIKTOK_HOST}/...; set tiktok.allow_custom_endpoint: true for the "
                "sandbox, a loopback test or a vetted gateway"
            )
        return self
