"""Settings of the dead-letter and consent-audit topics (section ``deadletter``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DeadLetterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic_pattern: str = Field(default="{topic}.dlq", description="dead-letter topic name; {topic} is the source")
    audit_topic: str = Field(default="tiktok-relay.consent-audit", min_length=1)
    header_prefix: str = Field(default="tiktok.relay.", description="prefix of the service's own context headers")
