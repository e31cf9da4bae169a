"""Settings of the sandbox: accepted tokens, TikTok's limits, and the faults to inject (changeable at run time)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ScriptedResponse(BaseModel):
    """One forced answer, used by the next request in order (deterministic tests and demos)."""

    model_config = ConfigDict(extra="forbid")

    http_status: int = Field(default=200, ge=100, le=599, description="non-200: a gateway-style HTML error")
    code: int | None = Field(
        default=None, description="body code with HTTP 200; 0 or 20001 let the request be processed normally"
    )
    message: str | None = Field(default=None, description="body message (default: TikTok-like text for the code)")
    hang: bool = Field(default=False, description="never answer in time (the client times out)")
    retry_after: str | None = Field(default=None, description="a Retry-After header to send (TikTok sends none)")


class Outage(BaseModel):
    """A window, relative to when the faults were applied, in which every request gets the same failure."""

    model_config = ConfigDict(extra="forbid")

    start_s: float = Field(default=0.0, ge=0)
    duration_s: float = Field(gt=0)
    http_status: int = Field(default=503, ge=100, le=599, description="used when code is not set")
    code: int | None = Field(default=None, description="answer HTTP 200 with this body code instead (e.g. 40100)")


class FaultSettings(BaseModel):
    """Faults to inject. Rates are independent probabilities per request, checked in the order listed."""

    model_config = ConfigDict(extra="forbid")

    latency_ms: float = Field(default=0.0, ge=0, description="simulated round trip added to every request")
    latency_jitter_ms: float = Field(default=0.0, ge=0, description="uniform extra latency up to this")
    script: list[ScriptedResponse] = Field(default_factory=list, description="answers for the next requests")
    outages: list[Outage] = Field(default_factory=list)
    timeout_rate: float = Field(default=0.0, ge=0, le=1, description="share of requests that hang")
    timeout_hang_s: float = Field(default=30.0, gt=0, description="how long a hanging request hangs")
    http_error_rate: float = Field(default=0.0, ge=0, le=1, description="share answered with http_error_status")
    http_error_status: int = Field(default=503, ge=500, le=599)
    error_rate: float = Field(default=0.0, ge=0, le=1, description="share answered HTTP 200 with error_code")
    error_code: int = Field(default=50000, description="e.g. 40100, 50000, 50002, 20001 (partial success)")
    event_source_codes: dict[str, int] = Field(
        default_factory=dict,
        description="event_source_id -> body code answered to each of its requests after authentication, e.g. "
        "40001 or 40105: one pixel's token refused while the others are accepted",
    )
    reject_event_ids: list[str] = Field(
        default_factory=list, description="a request carrying one of these event_ids is rejected with 40002"
    )


class SandboxSettings(BaseModel):
    """The sandbox's configuration; ``faults`` can be replaced at run time (``PUT /_sandbox/faults``)."""

    model_config = ConfigDict(extra="forbid")

    tokens: dict[str, list[str]] | None = Field(
        default=None,
        description="accepted token -> event_source_ids it may use (empty: all); null accepts any non-empty token",
    )
    rate_limit_rps: int | None = Field(default=1000, ge=1, description="requests per second per token (40100)")
    dedup_window_s: float = Field(default=48 * 3600, gt=0, description="event_id deduplication window")
    max_recorded_events: int = Field(default=100_000, ge=0, description="recent events kept for inspection")
    max_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024, description="largest request body accepted")
    seed: int | None = Field(default=None, description="seed of the fault-injection random draws")
    faults: FaultSettings = Field(default_factory=FaultSettings)
