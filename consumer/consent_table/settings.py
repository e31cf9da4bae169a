"""Settings of the consent table: the section ``consent_table``, and the block ``consent_subject`` in which a route
names its subject (``ConsentSubjectSettings``).

The section is off while ``topic`` is unset. Decoding of the topic's values follows the ``schemas`` section like
any topic: list the topic under ``schemas.topics`` (plain Avro with ``schemas/consent_decision.avsc``) or use the
registry.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from consumer.fields.settings import FieldPath, RouteBlock, path_shorthand
from consumer.kafka.settings import LibrdkafkaSettings

MAX_PURPOSES = 16
"""Purpose bits per entry: the decision time and the denied bits share one integer."""


class ConsentTableSettings(BaseModel):
    """Where the consent decisions are published and which purposes the relay tracks."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    topic: str | None = Field(
        default=None, min_length=1, description="compacted consent topic, keyed by subject id; unset = table off"
    )
    purposes: list[str] = Field(
        default_factory=lambda: ["marketing"],
        min_length=1,
        max_length=MAX_PURPOSES,
        description="the purposes the table keeps (one bit each); routes name theirs from this list",
    )
    catch_up_timeout_s: float = Field(
        default=300.0, gt=0, description="dlq replay --to tiktok gives up (sends nothing) if not caught up by then"
    )
    lag_interval_s: float = Field(default=5.0, gt=0, description="how often the table's lag and size are measured")
    consumer: LibrdkafkaSettings = Field(
        default_factory=dict, description="extra librdkafka settings of the table's group-less consumer"
    )

    @field_validator("purposes")
    @classmethod
    def _distinct(cls, purposes: list[str]) -> list[str]:
        if len(set(purposes)) != len(purposes) or any(not p.strip() for p in purposes):
            raise ValueError("purposes must be distinct, non-blank names")
        return purposes

    @property
    def enabled(self) -> bool:
        return self.topic is not None


class ConsentSubjectSettings(RouteBlock):
    """Who the record is about, as the consent table (section ``consent_table``) keys it, and the purposes the
    route's events need: a current denial of any of them in the table withholds the event at send time."""

    from_: FieldPath = Field(alias="from", description="field path of the subject in the record")
    kind: Literal["id", "email"] = Field(
        default="id",
        description="id: the field's text is the key; email: the key is the SHA-256 hex of the normalised email",
    )
    purposes: list[str] = Field(default_factory=lambda: ["marketing"], min_length=1)

    @model_validator(mode="before")
    @classmethod
    def _shorthand(cls, data: Any) -> Any:
        return path_shorthand(data)
