"""Settings of the Kafka clients, the consumer group member's included (section ``kafka``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

LibrdkafkaSettings = dict[str, str | int | bool | float]

PROTECTED_CONSUMER_KEYS = frozenset(
    {
        "bootstrap.servers",
        "group.id",
        "enable.auto.commit",
        "enable.auto.offset.store",
        "partition.assignment.strategy",
        "auto.commit.interval.ms",
        "auto.offset.reset",
    }
)
"""librdkafka keys set from the typed settings (or fixed by the offset-management design), not from extras."""


class AwsMskIamSettings(BaseModel):
    """Amazon MSK with IAM access control: SASL/OAUTHBEARER tokens signed by AWS's ``aws-msk-iam-sasl-signer-python``
    from the default AWS credential chain (the pod's IRSA or EKS Pod Identity role, or ``AWS_*`` variables)."""

    model_config = ConfigDict(extra="forbid")

    region: str = Field(min_length=1, description="AWS region of the MSK cluster, e.g. eu-west-1")
    role_arn: str | None = Field(
        default=None, min_length=1, description="assume this IAM role for the tokens (default: the chain's identity)"
    )


class KafkaSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")

    bootstrap_servers: str = Field(min_length=1, description="Kafka bootstrap servers, host:port[,host:port]")
    group_id: str = Field(default="tiktok-events-relay", min_length=1)
    client: LibrdkafkaSettings = Field(
        default_factory=dict,
        description="Extra librdkafka settings for every client (security.protocol, sasl.*, ssl.*).",
    )
    aws_msk_iam: AwsMskIamSettings | None = Field(
        default=None,
        description="authenticate to Amazon MSK with IAM (sets security.protocol SASL_SSL, sasl.mechanism OAUTHBEARER "
        "and a token callback on every client); needs the `msk` extra",
    )
    consumer: LibrdkafkaSettings = Field(
        default_factory=dict,
        description="Extra librdkafka settings for the consumer only (fetch sizes, session.timeout.ms, ...). The "
        "offset-management settings the delivery guarantee rests on cannot be overridden.",
    )
    auto_offset_reset: Literal["earliest", "latest"] = Field(
        default="earliest", description="where a group without a committed offset starts"
    )
    consume_batch: int = Field(
        default=500,
        ge=1,
        le=100_000,
        description=(
            "the most messages one poll-loop turn takes (once it has one, it waits at most 20 ms for more); they are"
            " started 125 at a time, with TikTok's responses and the linger timer running between"
        ),
    )
    poll_timeout_s: float = Field(
        default=0.1, gt=0, le=5, description="how long a poll-loop turn waits for a message when none is ready"
    )
    max_unsettled: int = Field(default=20_000, ge=1, description="pause partitions above this many unsettled messages")
    max_partition_span: int = Field(
        default=50_000,
        ge=1,
        description="pause one partition when this many of its messages are tracked from its oldest unsettled one on "
        "(settled ones waiting behind it included): one stuck message cannot make a partition hold unbounded memory",
    )
    resume_fraction: float = Field(
        default=0.5,
        ge=0,
        lt=1,
        description="resume paused partitions once unsettled work (or a held partition's span) falls to this fraction",
    )
    drain_deadline_s: float = Field(default=20.0, gt=0, description="SIGTERM and revoke: time to settle in-flight work")
    commit_interval_ms: int = Field(default=1000, ge=100, description="auto-commit interval of stored offsets")
    stats_interval_s: float = Field(
        default=5.0, gt=0, description="how often consumer lag and broker reachability are refreshed"
    )
    transient_retry_max_s: float = Field(
        default=30.0,
        gt=0,
        description="a message whose decoding failed transiently (schema registry outage) is retried, backing off to "
        "this; it is never dead-lettered for that",
    )

    @field_validator("client", "consumer")
    @classmethod
    def _keeps_offset_management(cls, extra: LibrdkafkaSettings) -> LibrdkafkaSettings:
        reserved = sorted(PROTECTED_CONSUMER_KEYS.intersection(extra))
        if reserved:
            raise ValueError(f"{', '.join(reserved)} cannot be overridden: the delivery guarantee depends on them")
        return extra
