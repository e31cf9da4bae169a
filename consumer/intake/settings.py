"""Settings of the Kafka consumer (section ``kafka``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class KafkaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bootstrap_servers: str = Field(min_length=1, description="Kafka bootstrap servers, host:port[,host:port]")
    group_id: str = Field(default="tiktok-events-relay", min_length=1)
    client: dict[str, str | int | bool | float] = Field(
        default_factory=dict,
        description="Extra librdkafka settings for every client (security.protocol, sasl.*, ssl.*).",
    )
    consume_batch: int = Field(default=500, ge=1, le=100_000, description="messages per consume() call")
    poll_timeout_s: float = Field(default=0.1, gt=0, le=5)
    max_unsettled: int = Field(default=20_000, ge=1, description="pause partitions above this many unsettled messages")
    drain_deadline_s: float = Field(default=20.0, gt=0, description="SIGTERM and revoke: time to settle in-flight work")
