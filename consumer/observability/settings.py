"""Settings of logs and the health/metrics HTTP endpoint (section ``observability``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ObservabilitySettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    log_format: Literal["json", "console"] = "json"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    http_host: str = "0.0.0.0"  # noqa: S104 - the pod's health and metrics port must be reachable by the kubelet
    http_port: int = Field(default=8080, ge=0, le=65535)
