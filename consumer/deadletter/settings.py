"""Settings of the dead-letter and consent-audit topics (section ``deadletter``)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator


class DeadLetterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    topic_pattern: str = Field(default="{topic}.dlq", description="dead-letter topic name; {topic} is the source")
    audit_topic: str = Field(default="tiktok-relay.consent-audit", min_length=1)
    replay_audit_topic: str = Field(
        default="tiktok-relay.replay-audit",
        min_length=1,
        description="`tiktok-relay dlq replay` writes one summary record per run here (who, when, filters, counts)",
    )
    replay_record_topic: str = Field(
        default="tiktok-relay.replay-record",
        min_length=1,
        description="compacted topic of the dead letters `dlq replay` took back, so that replays send each once",
    )
    header_prefix: str = Field(default="tiktok.relay.", description="prefix of the service's own context headers")
    create_topics: bool = Field(
        default=True,
        description="create missing dead-letter topics (with the source's partition count) and the audit topic",
    )
    audit_partitions: int = Field(default=3, ge=1, description="partitions of the audit topic when it is created")
    replication_factor: int = Field(
        default=-1, description="replication factor of created topics; -1 uses the broker's default"
    )
    retry_backoff_max_s: float = Field(
        default=30.0, gt=0, description="a failed dead-letter or audit write is retried, backing off up to this"
    )
    producer: dict[str, str | int | bool | float] = Field(
        default_factory=dict, description="extra librdkafka settings for the dead-letter/audit producer only"
    )

    @field_validator("producer")
    @classmethod
    def _keeps_durability(cls, extra: dict[str, str | int | bool | float]) -> dict[str, str | int | bool | float]:
        reserved = sorted({"bootstrap.servers", "enable.idempotence", "acks"}.intersection(extra))
        if reserved:
            raise ValueError(f"{', '.join(reserved)} cannot be overridden: dead letters must be durable")
        return extra

    @field_validator("topic_pattern")
    @classmethod
    def _names_the_source(cls, pattern: str) -> str:
        if "{topic}" not in pattern:
            raise ValueError("must contain {topic}")
        if pattern.replace("{topic}", "") == "":
            raise ValueError("must add something to {topic}, or dead letters would go back to the source")
        return pattern

    def dead_letter_topic(self, source_topic: str) -> str:
        """The dead-letter topic of ``source_topic``."""
        return self.topic_pattern.replace("{topic}", source_topic)
